"""Which process runs the scheduled work when several share one database.

Housekeeping, the retention purge, the daily digest and the workshop jobs
are idempotent, but running them once per worker multiplies their load and
their log lines by the number of workers. One worker holds a lease in Redis
(``SET NX PX`` with a random token, renewed well before it expires) and only
the holder runs them. When the holder dies, or cannot reach Redis, the lease
expires and another worker takes it over within ``ttl``.

A holder that cannot renew (Redis down) stops counting itself the holder at
once: two workers may then briefly both believe they lead only if one of
them is cut off from Redis for less than the TTL while still running a job,
which the jobs tolerate (they are idempotent and claim rows in the database).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Protocol

from redis.asyncio import Redis

log = logging.getLogger(__name__)

# Renew only if the lease is still ours; release only if it is still ours.
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class Lease(Protocol):
    @property
    def held(self) -> bool: ...
    async def tick(self) -> bool: ...
    async def run(self, stop: asyncio.Event) -> None: ...


class SoleProcess:
    """One process, no Redis: it always holds the lease."""

    held = True

    async def tick(self) -> bool:
        return True

    async def run(self, stop: asyncio.Event) -> None:
        await stop.wait()


class RedisLease:
    def __init__(self, redis: Redis, key: str, *, ttl: float = 30.0) -> None:
        self._redis = redis
        self.key = key
        self.ttl = ttl
        self.token = uuid.uuid4().hex
        self._held = False

    @property
    def held(self) -> bool:
        return self._held

    async def tick(self) -> bool:
        """Take the lease if it is free, renew it if it is ours; the answer: ours now."""
        ttl_ms = int(self.ttl * 1000)
        try:
            if self._held:
                renewed = await self._redis.eval(_RENEW, 1, self.key, self.token, ttl_ms)
                self._held = bool(renewed)
                if not self._held:
                    log.warning("lease %s lost (it expired before it was renewed)", self.key)
            if not self._held:
                self._held = bool(await self._redis.set(self.key, self.token, nx=True,
                                                        px=ttl_ms))
                if self._held:
                    log.info("lease %s taken: this worker runs the scheduled work", self.key)
        except Exception as error:  # Redis unreachable: not sure, so not the holder
            if self._held:
                log.warning("lease %s given up: %s", self.key, type(error).__name__)
            self._held = False
        return self._held

    async def release(self) -> None:
        if not self._held:
            return
        self._held = False
        try:
            await self._redis.eval(_RELEASE, 1, self.key, self.token)
        except Exception as error:  # it expires by itself
            log.warning("lease %s not released: %s", self.key, type(error).__name__)

    async def run(self, stop: asyncio.Event) -> None:
        """Keep taking or renewing the lease every third of its TTL until stopped;
        released on the way out so another worker takes over at once."""
        try:
            while not stop.is_set():
                await self.tick()
                try:
                    await asyncio.wait_for(stop.wait(), self.ttl / 3)
                except TimeoutError:
                    pass
        finally:
            await self.release()
