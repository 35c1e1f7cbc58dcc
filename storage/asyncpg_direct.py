"""Core statements compiled once and run on asyncpg's own connection.

SQLAlchemy stays the author of the SQL (the statements are built from the
models and compiled by its asyncpg dialect, casts and all) and the owner of
the connection and its transaction; only the execution of the two
statements every button press runs on PostgreSQL (the event's start and its
last writes) skips SQLAlchemy's per-execution machinery: the greenlet hop,
the execution context, the cursor and result wrappers. SQLAlchemy was a
fifth of the bot's CPU per update under the profiler (bench/throughput.py
--profile, behind the webhook on PostgreSQL), more than aiohttp's server
and client together; most of it was this machinery. In bench/engine.py's
journey on PostgreSQL, the engine's CPU per event fell to 0.75 x (median
of ten interleaved pairs in one process).

Only statements that need nothing of SQLAlchemy's execution run here: no
ORM, no transaction of their own (each commits on its own, or runs in the
transaction the driver has open), one row back.

Values go through each type's own bind and result processors (public
``TypeEngine`` methods), so a column type that converts its values (UTC
datetimes, JSON) behaves exactly as through SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asyncpg.exceptions import PostgresError
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.expression import Select


def driver(connection: AsyncConnection) -> Any:
    """The asyncpg connection under SQLAlchemy's (checked out already)."""
    return connection.sync_connection.connection.driver_connection  # type: ignore[union-attr]


class Compiled:
    """One statement's SQL for asyncpg, its parameters in order with their
    processors, and its result columns' processors."""

    def __init__(self, statement: Select, dialect: Dialect) -> None:
        """Compiled by the engine's own dialect (its JSON serializer, its
        server's version), once per statement."""
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        # (name given by the caller or None, fixed value, processor), in $n order;
        # a literal in the statement (``purpose == "privacy"``) is a fixed value.
        self._params: list[tuple[str | None, Any, Callable[[Any], Any] | None]] = []
        for name in compiled.positiontup or ():
            bind = compiled.binds[name]
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if bind.required:
                self._params.append((bind.key, None, process))
            else:
                fixed = bind.effective_value
                self._params.append((None, fixed if process is None else process(fixed), None))
        self._results: list[Callable[[Any], Any] | None] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns]

    def _args(self, params: dict[str, Any]) -> list[Any]:
        return [fixed if name is None else
                params[name] if process is None else process(params[name])
                for name, fixed, process in self._params]

    async def row(self, connection: AsyncConnection,
                  params: dict[str, Any]) -> tuple[Any, ...] | None:
        """The first row, on the driver connection under ``connection``."""
        # A value its column cannot take is the caller's error, raised here
        # before anything is sent (as SQLAlchemy would).
        args = self._args(params)
        asyncpg = driver(connection)
        try:
            record = await asyncpg.fetchrow(self.sql, *args)
        except BaseException as error:
            if isinstance(error, PostgresError) and not asyncpg.is_closed():
                raise  # the server refused the statement; the connection is fine
            await _in_doubt(connection, error)
            if isinstance(error, Exception):
                raise DisconnectionError(f"PostgreSQL connection lost: {error!r}") from error
            raise
        if record is None:
            return None
        return tuple(value if process is None else process(value)
                     for value, process in zip(record, self._results, strict=True))


async def _in_doubt(connection: AsyncConnection, error: BaseException) -> None:
    """What SQLAlchemy does when its own statement loses the connection: the
    connection is never pooled again and, when it was closed under it, the
    pool's other connections are replaced too (they are likely gone as well:
    a restarted server, a cut network). Without this a dead connection went
    back to the pool and failed the next event that took it. Also for an
    interrupted statement (a cancelled task), which leaves the connection
    mid-protocol."""
    driver_closed = driver(connection).is_closed()
    await connection.invalidate(error if isinstance(error, Exception) else None)
    if driver_closed:
        await connection.engine.dispose(close=False)
