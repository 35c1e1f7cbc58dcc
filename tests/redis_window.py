"""Watch a Redis send limiter's global window by Redis's own clock.

The limiter records each grant in a sorted set scored by Redis's TIME, so
counting that set's last second from inside Redis is the exact check of
"never over the shared rate": it does not depend on how late a granted send
reached the fake Bot API, which a busy machine can stretch to hundreds of
milliseconds (and Telegram would then answer 429, which the sender retries).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from redis.asyncio import Redis

_COUNT_LAST_SECOND = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
return redis.call('ZCOUNT', KEYS[1], '(' .. string.format('%.3f', now - 1000), '+inf')
"""


@contextlib.asynccontextmanager
async def global_window_counts(redis: Redis, prefix: str,
                               every: float = 0.005) -> AsyncIterator[list[int]]:
    """Yields a list that fills, until the block ends, with the number of
    grants in Redis's last second, sampled every ``every`` seconds."""
    count = redis.register_script(_COUNT_LAST_SECOND)
    counts: list[int] = []
    done = asyncio.Event()

    async def watch() -> None:
        while not done.is_set():
            counts.append(int(await count(keys=[f"{prefix}send:global"])))
            await asyncio.sleep(every)

    watcher = asyncio.create_task(watch())
    try:
        yield counts
    finally:
        done.set()
        await watcher
