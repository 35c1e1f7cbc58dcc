"""The per-citizen throttle: at most N messages a minute.

It answers whether an event may go on, and whether this is the first one
refused in the window (so the citizen is told to slow down once, not once
per message).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    first_refusal: bool = False


class Throttle(Protocol):
    async def check(self, key: str) -> Verdict: ...
    async def forget(self, key: str) -> None:
        """Drop what is counted for this key (the person asked to be erased)."""


class LocalThrottle:
    """A sliding one-minute window per key, in process."""

    def __init__(self, per_minute: int, clock=time.monotonic) -> None:  # type: ignore[no-untyped-def]
        self.per_minute = per_minute
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._warned: dict[str, float] = {}

    async def check(self, key: str) -> Verdict:
        if self.per_minute <= 0:
            return Verdict(True)
        now = self._clock()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - 60:
            hits.popleft()
        if len(self._hits) > 10_000:
            self._forget_idle(now)
        if len(hits) < self.per_minute:
            hits.append(now)
            return Verdict(True)
        warned_at = self._warned.get(key)
        first = warned_at is None or warned_at <= now - 60
        if first:
            self._warned[key] = now
        return Verdict(False, first)

    async def forget(self, key: str) -> None:
        self._hits.pop(key, None)
        self._warned.pop(key, None)

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, v in self._hits.items() if not v or v[-1] <= now - 60]:
            del self._hits[key]
            self._warned.pop(key, None)


class RedisThrottle:
    """A fixed one-minute window per key shared by every process."""

    def __init__(self, redis: Redis, prefix: str, per_minute: int) -> None:
        self._redis = redis
        self._prefix = prefix
        self.per_minute = per_minute

    async def check(self, key: str) -> Verdict:
        if self.per_minute <= 0:
            return Verdict(True)
        window = int(time.time() // 60)
        name = f"{self._prefix}throttle:{key}:{window}"
        async with self._redis.pipeline(transaction=True) as pipe:
            count, _ = await pipe.incr(name).expire(name, 120).execute()
        if count <= self.per_minute:
            return Verdict(True)
        return Verdict(False, first_refusal=count == self.per_minute + 1)

    async def forget(self, key: str) -> None:
        # Keys live two windows at most: the current one and the one before.
        window = int(time.time() // 60)
        await self._redis.delete(*(f"{self._prefix}throttle:{key}:{w}"
                                   for w in (window - 1, window, window + 1)))
