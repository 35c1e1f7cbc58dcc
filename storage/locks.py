"""One event at a time per conversation, in arrival order.

In-process: an asyncio.Lock per key (asyncio locks wake waiters first in,
first out, which keeps arrival order). With Redis, the same local lock is
taken first (order within the process) and then a Redis lock (exclusion
across processes). When Redis is down the error propagates: falling back
to local locks would silently break exclusion between processes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

from redis.asyncio import Redis


class Locks(Protocol):
    def hold(self, key: str) -> AsyncIterator[None]: ...


class LocalLocks:
    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiters: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiters[key] = self._waiters.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            # Forget idle keys so a million citizens do not mean a million locks.
            self._waiters[key] -= 1
            if self._waiters[key] == 0:
                del self._waiters[key]
                del self._locks[key]

    def __len__(self) -> int:
        return len(self._locks)


class RedisLocks:
    def __init__(self, redis: Redis, prefix: str, *, timeout: float = 60.0,
                 wait: float = 30.0) -> None:
        self._local = LocalLocks()
        self._redis = redis
        self._prefix = prefix
        self._timeout = timeout
        self._wait = wait

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        async with self._local.hold(key):
            lock = self._redis.lock(f"{self._prefix}lock:{key}", timeout=self._timeout,
                                    blocking_timeout=self._wait, sleep=0.005)
            if not await lock.acquire():
                raise TimeoutError(f"conversation lock {key} busy for {self._wait}s")
            try:
                yield
            finally:
                await lock.release()
