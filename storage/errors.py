"""Which errors mean "a service is unreachable" rather than "a bug".

An unreachable database or Redis must not be answered with "something went
wrong": the update is left unconfirmed so Telegram delivers it again.
"""

from __future__ import annotations

import asyncio

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

_UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError,
                RedisConnectionError, RedisTimeoutError, ConnectionError, OSError,
                asyncio.TimeoutError)


def is_unavailable(error: BaseException) -> bool:
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, _UNAVAILABLE)
