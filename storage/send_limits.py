"""Telegram's sending limits, shared by every sending task (and, with Redis, every process).

Telegram allows about 30 messages a second overall for bulk sending, about one
a second per private chat and 20 a minute per group. Participa sends at most
``rate`` messages a second overall (SEND_RATE), ``per_chat_per_second`` per
private chat and ``per_group_per_minute`` per group (a chat id below 0 is a
group). All windows slide: a send counts for one second in the global and
private-chat windows and for 60 seconds in a group's window.

Three priorities share the one budget. A send waits for the global budget in a
priority gate (below); it never waits for its own chat: when the chat is at its
limit, :meth:`acquire` answers at once ``Grant(ok=False, chat_wait=s)`` and the
caller defers that message and sends others (no head-of-line blocking).
INTERACTIVE replies are counted in their chat's window but never refused for it.

Penalties (429 with retry_after, :meth:`penalise`) are Telegram's own word:
they hold back every priority, INTERACTIVE included (a chat penalty answers
``chat_wait``; a global one makes every sender wait), since Telegram would
refuse the send anyway.

The priority gate: waiters queue by (priority, arrival); only the head waiter
asks the budget; told "wait X s" it sleeps min(X, 50 ms) and asks again, so a
higher-priority waiter arriving meanwhile becomes the head and asks next. A
cancelled or timed-out waiter leaves the queue and hands the turn on.

With Redis the windows are shared by every process, but each process has its
own gate: priority order is strict within a process only. Across processes
the heads of the gates compete for each freed slot (whoever asks first after
it frees wins), so a broadcast in one process may take a slot while an
interactive reply waits in another, for at most about one poll (50 ms) while
the budget is full. Bulk senders that need strict cross-process order should
run in one process. The keys carry no hash tag: on Redis Cluster, put one in the
prefix (``"{participa}:"``) so the script's keys share a slot.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import os
import time
from abc import ABC, abstractmethod
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

from redis.asyncio import Redis

__all__ = [
    "Grant",
    "LocalSendLimiter",
    "Priority",
    "RedisSendLimiter",
    "SendLimiter",
]

#: The longest a head waiter sleeps before asking the budget again.
POLL_CAP = 0.05
#: How long a chat's last sends are remembered (for :meth:`sent_recently` and the
#: windows); ``sent_recently(within=...)`` is exact up to this many seconds.
RECENT_HORIZON = 60.0
#: A group's window.
GROUP_SPAN = 60.0
#: Redis: at most this many chat pre-checks in flight per limiter (plus the head's look),
#: so a burst of a thousand sends does not mean a thousand connections.
CHECKS_AT_ONCE = 8

# What one look at the budget says.
_GRANTED, _CHAT, _GLOBAL = 0, 1, 2


class Priority(IntEnum):
    INTERACTIVE = 0  # a reply to the person who just acted
    PERSONAL = 1  # a notification to one person
    BROADCAST = 2


@dataclass(frozen=True, slots=True)
class Grant:
    ok: bool  # True: send now (the send was counted)
    chat_wait: float = 0.0  # >0: the chat is at its limit that long; nothing was counted


class SendLimiter(Protocol):
    async def acquire(self, chat_id: int, priority: Priority, *,
                      timeout: float | None = None) -> Grant:  # noqa: ASYNC109
        """Wait (in priority order, then arrival order) until the global budget allows one
        more send, then count it against the global and the chat's windows and return
        Grant(ok=True).

        If the chat itself is at its limit (or under a penalty), return at once
        Grant(ok=False, chat_wait=s) without counting anything and without waiting for
        the global budget. INTERACTIVE replies are counted in the chat's window but never
        refused for the chat's limit (only for a chat penalty): for them only the global
        budget applies.

        timeout: give up waiting for the global budget after that many seconds (on the
        limiter's clock, hence not asyncio.timeout) and raise TimeoutError; 0 looks once.
        """
        ...

    async def penalise(self, chat_id: int | None, seconds: float) -> None:
        """A 429 with retry_after: nothing to this chat for ``seconds`` (chat_id given), or
        nothing to anyone (chat_id None). A shorter penalty never shortens a longer one."""
        ...

    async def sent_recently(self, chat_id: int, within: float = 1.0) -> bool:
        """Whether this chat had a send counted in the last ``within`` seconds (exact up to
        RECENT_HORIZON), to tell whether a 429 was about the chat or global."""
        ...


def _window(per_second: float) -> tuple[int, float]:
    """(sends, seconds) of a sliding window for a rate: ``floor(rate)`` a second, or
    one per ``1/rate`` seconds below one a second. ``(0, 0)``: unlimited."""
    if per_second <= 0:
        return 0, 0.0
    if per_second >= 1:
        return int(per_second), 1.0
    return 1, 1.0 / per_second


# ---------------------------------------------------------------------------
# The priority gate


class _Waiter:
    __slots__ = ("deadline", "done", "event", "timed_out")

    def __init__(self, deadline: float | None) -> None:
        self.deadline = deadline
        self.done = False
        self.timed_out = False
        self.event: asyncio.Event | None = None  # made only if the waiter has to wait


Ask = Callable[[], Awaitable[tuple[int, float]]]


class _Gate:
    """Waiters in (priority, arrival) order; only the head asks the budget.

    Removal is lazy (a finished waiter is marked done and dropped when it reaches
    the top of a heap; the heaps are rebuilt when mostly dead), so arriving,
    leaving and being cancelled are all O(log n).
    """

    def __init__(self, clock: Callable[[], float], sleep: Callable[[float], Awaitable[object]],
                 cap: float = POLL_CAP) -> None:
        self._clock = clock
        self._sleep = sleep
        self._cap = cap
        self._queue: list[tuple[int, int, _Waiter]] = []
        self._deadlines: list[tuple[float, int, _Waiter]] = []
        self._seq = itertools.count()
        self._live = 0
        self._asking = False  # a look at the budget is in flight (at most one)

    @property
    def waiting(self) -> int:
        """Waiters in the gate (being served included)."""
        return self._live

    def ticket(self) -> int:
        """An arrival number: taken on arrival, before any look at the chat."""
        return next(self._seq)

    def deadline(self, timeout: float | None) -> float | None:
        return None if timeout is None else self._clock() + max(timeout, 0.0)

    async def through(self, priority: int, seq: int, ask: Ask, deadline: float | None) -> Grant:
        waiter = _Waiter(deadline)
        heapq.heappush(self._queue, (priority, seq, waiter))
        if deadline is not None:
            heapq.heappush(self._deadlines, (deadline, seq, waiter))
        self._live += 1
        try:
            while True:
                if waiter.timed_out:
                    raise TimeoutError("send budget busy")
                if self._asking or self._head() is not waiter:
                    if waiter.event is None:
                        waiter.event = asyncio.Event()
                    waiter.event.clear()
                    await waiter.event.wait()
                    if deadline is not None and self._clock() >= deadline:
                        raise TimeoutError("send budget busy")
                    continue
                self._asking = True
                try:
                    kind, wait = await ask()
                finally:
                    self._asking = False
                if kind == _GRANTED:
                    return Grant(True)
                if kind == _CHAT:
                    return Grant(False, chat_wait=wait)
                # The budget is full: let a head that arrived during the look ask,
                # time out whoever is due, then nap and look again.
                self._wake_head()
                now = self._clock()
                self._expire(now)
                if deadline is not None and now >= deadline:
                    raise TimeoutError("send budget busy")
                nap = min(wait, self._cap)
                if self._deadlines:
                    nap = min(nap, self._deadlines[0][0] - now)
                await self._sleep(max(nap, 0.0))
        finally:
            waiter.done = True
            self._live -= 1
            self._compact()
            self._wake_head()

    def _head(self) -> _Waiter | None:
        queue = self._queue
        while queue and queue[0][2].done:
            heapq.heappop(queue)
        return queue[0][2] if queue else None

    def _wake_head(self) -> None:
        if self._asking:
            return  # the asker wakes the head when its look ends
        head = self._head()
        if head is not None and head.event is not None:
            head.event.set()

    def _expire(self, now: float) -> None:
        deadlines = self._deadlines
        while deadlines and (deadlines[0][2].done or deadlines[0][0] <= now):
            _, _, waiter = heapq.heappop(deadlines)
            if not waiter.done:
                waiter.timed_out = True
                if waiter.event is not None:
                    waiter.event.set()

    def _compact(self) -> None:
        """Rebuild the heaps when dead entries outnumber the living (amortised O(1))."""
        if len(self._queue) > 2 * self._live + 64:
            self._queue = [entry for entry in self._queue if not entry[2].done]
            heapq.heapify(self._queue)
        if len(self._deadlines) > 2 * self._live + 64:
            self._deadlines = [entry for entry in self._deadlines if not entry[2].done]
            heapq.heapify(self._deadlines)


class _GatedLimiter(ABC):
    """acquire() on top of a budget: a chat pre-check when others wait, then the gate."""

    _gate: _Gate

    async def acquire(self, chat_id: int, priority: Priority, *,
                      timeout: float | None = None) -> Grant:  # noqa: ASYNC109
        gate = self._gate
        seq, deadline = gate.ticket(), gate.deadline(timeout)
        if gate.waiting:
            # Others wait for the global budget: answer a chat at its limit at once
            # instead of after the queue (the head's look checks the chat again).
            wait = await self._chat_wait(chat_id, priority)
            if wait > 0:
                return Grant(False, chat_wait=wait)

        async def ask() -> tuple[int, float]:
            return await self._try(chat_id, priority)

        return await gate.through(int(priority), seq, ask, deadline)

    @abstractmethod
    async def _chat_wait(self, chat_id: int, priority: Priority) -> float:
        """Seconds until this chat may have another send (0: now)."""

    @abstractmethod
    async def _try(self, chat_id: int, priority: Priority) -> tuple[int, float]:
        """Penalties, the chat (unless INTERACTIVE), the global window; record if all allow."""


# ---------------------------------------------------------------------------
# In process


class LocalSendLimiter(_GatedLimiter):
    """Exact sliding windows in process memory.

    A window of N sends keeps only the chat's last N send times (its oldest is
    the one that decides), so checks are O(1). Chats are kept in order of their
    last send and forgotten RECENT_HORIZON seconds after it: memory is bounded
    by the chats sent to in the last minute.
    """

    def __init__(self, rate: float, per_chat_per_second: float = 1,
                 per_group_per_minute: int = 20,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        self.rate = rate
        self._clock = clock
        self._global_n, self._global_span = _window(rate)
        self._private_n, self._private_span = _window(per_chat_per_second)
        self._group_n = max(per_group_per_minute, 0)
        self._group_span = GROUP_SPAN
        self._keep = max(RECENT_HORIZON, self._private_span, self._group_span)
        self._global: deque[float] = deque(maxlen=self._global_n or 1)  # last sends
        self._chats: OrderedDict[int, tuple[float, ...]] = OrderedDict()
        self._paused_until = 0.0
        self._chat_paused: dict[int, float] = {}
        self._gate = _Gate(clock, sleep)

    async def _chat_wait(self, chat_id: int, priority: Priority) -> float:
        return self._chat_wait_now(chat_id, priority, self._clock())

    async def _try(self, chat_id: int, priority: Priority) -> tuple[int, float]:
        now = self._clock()
        wait = self._chat_wait_now(chat_id, priority, now)
        if wait > 0:
            return _CHAT, wait
        wait = self._global_wait(now)
        if wait > 0:
            return _GLOBAL, wait
        self._record(chat_id, now)
        return _GRANTED, 0.0

    async def penalise(self, chat_id: int | None, seconds: float) -> None:
        if seconds <= 0:
            return
        until = self._clock() + seconds
        if chat_id is None:
            self._paused_until = max(self._paused_until, until)
            return
        paused = self._chat_paused
        if len(paused) >= 1024:  # penalties are rare: drop the expired ones now and then
            now = self._clock()
            for key in [k for k, v in paused.items() if v <= now]:
                del paused[key]
        paused[chat_id] = max(paused.get(chat_id, 0.0), until)

    async def sent_recently(self, chat_id: int, within: float = 1.0) -> bool:
        stamps = self._chats.get(chat_id)
        return bool(stamps) and stamps[-1] > self._clock() - within  # type: ignore[index]

    def _chat_wait_now(self, chat_id: int, priority: Priority, now: float) -> float:
        until = self._chat_paused.get(chat_id)
        if until is not None:
            if until > now:
                return until - now
            del self._chat_paused[chat_id]
        if priority == Priority.INTERACTIVE:
            return 0.0
        n, span = self._chat_window(chat_id)
        stamps = self._chats.get(chat_id)
        if n and stamps and len(stamps) >= n:
            oldest = stamps[-n]
            if oldest > now - span:
                return oldest + span - now
        return 0.0

    def _global_wait(self, now: float) -> float:
        wait = self._paused_until - now
        n = self._global_n
        if n and len(self._global) >= n:
            wait = max(wait, self._global[0] + self._global_span - now)
        return max(wait, 0.0)

    def _record(self, chat_id: int, now: float) -> None:
        if self._global_n:
            self._global.append(now)
        chats = self._chats
        keep, _ = self._chat_window(chat_id)  # the window's last sends (at least the last one)
        stamps = chats.pop(chat_id, ())
        chats[chat_id] = (*stamps[-(keep - 1):], now) if keep > 1 else (now,)
        # Forget chats idle longer than the horizon (ordered by last send: O(1) amortised).
        horizon = now - self._keep
        while chats:
            first = next(iter(chats.values()))
            if first[-1] > horizon:
                break
            chats.popitem(last=False)

    def _chat_window(self, chat_id: int) -> tuple[int, float]:
        if chat_id < 0:
            return self._group_n, self._group_span
        return self._private_n, self._private_span


# ---------------------------------------------------------------------------
# Shared by processes through Redis

# KEYS: 1 global window, 2 chat window, 3 global pause, 4 chat pause (or the global
#       pause again for a global penalty)
# ARGV: 1 mode: try | check | recent | pause
#       try/check: 2 global sends, 3 global span ms, 4 chat sends (0: not checked),
#                  5 chat span ms, 6 member, 7 chat key lifetime ms
#       recent: 2 within ms; pause: 2 ms
# Returns {0, 0} granted (recorded), {1, us} chat wait, {2, us} global wait;
#   recent: 1 or 0.
_SCRIPT = """
local mode = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local function ms(x) return string.format('%.3f', x) end

if mode == 'pause' then
  local wanted = tonumber(ARGV[2])
  if redis.call('PTTL', KEYS[4]) < wanted then
    redis.call('SET', KEYS[4], '1', 'PX', wanted)
  end
  return 0
end
if mode == 'recent' then
  local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
  if last[2] and tonumber(last[2]) > now - tonumber(ARGV[2]) then return 1 end
  return 0
end

local paused = redis.call('PTTL', KEYS[4])
if paused > 0 then return {1, paused * 1000} end
local chat_n = tonumber(ARGV[4])
if chat_n > 0 then
  local span = tonumber(ARGV[5])
  local nth = redis.call('ZRANGE', KEYS[2], -chat_n, -chat_n, 'WITHSCORES')
  if nth[2] then
    local oldest = tonumber(nth[2])
    if oldest > now - span then
      return {1, math.ceil((oldest + span - now) * 1000)}
    end
  end
end
if mode == 'check' then return {0, 0} end

paused = redis.call('PTTL', KEYS[3])
if paused > 0 then return {2, paused * 1000} end
local global_n = tonumber(ARGV[2])
local global_span = tonumber(ARGV[3])
if global_n > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms(now - global_span))
  local nth = redis.call('ZRANGE', KEYS[1], -global_n, -global_n, 'WITHSCORES')
  if nth[2] then
    return {2, math.ceil((tonumber(nth[2]) + global_span - now) * 1000)}
  end
  redis.call('ZADD', KEYS[1], ms(now), ARGV[6])
  redis.call('PEXPIRE', KEYS[1], math.ceil(global_span) + 1000)
end
local keep = tonumber(ARGV[7])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ms(now - keep))
redis.call('ZADD', KEYS[2], ms(now), ARGV[6])
redis.call('PEXPIRE', KEYS[2], keep)
return {0, 0}
"""


class RedisSendLimiter(_GatedLimiter):
    """The same windows in Redis, so that every process shares one budget.

    One Lua script (EVALSHA, loaded again if Redis forgot it) looks at the
    penalties, the chat's window and the global window and records a send in
    both windows, atomically. Windows are sorted sets of send times (scores in
    ms from Redis's own TIME, so the processes' clocks do not matter; members
    unique per send), trimmed by score and expiring when idle. Keys:
    ``{prefix}send:global``, ``{prefix}send:chat:<id>``, ``{prefix}send:pause``
    and ``{prefix}send:pause:<id>``. A chat's set keeps RECENT_HORIZON seconds
    (for :meth:`sent_recently`), the global set one window. Redis errors
    propagate to the caller; a send whose task is cancelled during the look may
    have been counted (a slot lost, never one too many).

    Priority is strict within a process only (see the module's docstring). While
    others wait, a chat pre-check costs one more round trip; at most
    CHECKS_AT_ONCE of them are in flight, whatever the burst.
    """

    def __init__(self, redis: Redis, prefix: str, rate: float, per_chat_per_second: float = 1,
                 per_group_per_minute: int = 20) -> None:
        self.rate = rate
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_SCRIPT)
        global_n, global_span = _window(rate)
        private_n, private_span = _window(per_chat_per_second)
        self._global_args = (global_n, _ms(global_span))
        self._private = (private_n, _ms(private_span))
        self._group = (max(per_group_per_minute, 0), _ms(GROUP_SPAN))
        self._keep_ms = _ms(max(RECENT_HORIZON, private_span, GROUP_SPAN))
        self._token = os.urandom(6).hex()
        self._count = itertools.count()
        self._gate = _Gate(time.monotonic, asyncio.sleep)
        self._checks = asyncio.Semaphore(CHECKS_AT_ONCE)

    async def _chat_wait(self, chat_id: int, priority: Priority) -> float:
        # A burst of sends arriving while others wait must not open a connection each.
        async with self._checks:
            kind, wait = await self._run("check", chat_id, priority)
        return wait if kind == _CHAT else 0.0

    async def _try(self, chat_id: int, priority: Priority) -> tuple[int, float]:
        return await self._run("try", chat_id, priority)

    async def _run(self, mode: str, chat_id: int, priority: Priority) -> tuple[int, float]:
        chat_n, chat_span = self._group if chat_id < 0 else self._private
        if priority == Priority.INTERACTIVE:
            chat_n = 0
        kind, micros = await self._script(
            keys=self._keys(chat_id),
            args=(mode, *self._global_args, chat_n, chat_span,
                  f"{self._token}:{next(self._count)}", self._keep_ms))
        return int(kind), int(micros) / 1_000_000

    async def penalise(self, chat_id: int | None, seconds: float) -> None:
        if seconds <= 0:
            return
        keys = self._keys(chat_id if chat_id is not None else 0)
        if chat_id is None:
            keys[3] = keys[2]
        await self._script(keys=keys, args=("pause", max(1, math.ceil(seconds * 1000))))

    async def sent_recently(self, chat_id: int, within: float = 1.0) -> bool:
        found = await self._script(keys=self._keys(chat_id), args=("recent", within * 1000))
        return bool(int(found))

    def _keys(self, chat_id: int) -> list[str]:
        p = f"{self._prefix}send:"
        return [f"{p}global", f"{p}chat:{chat_id}", f"{p}pause", f"{p}pause:{chat_id}"]


def _ms(seconds: float) -> int:
    return math.ceil(seconds * 1000)
