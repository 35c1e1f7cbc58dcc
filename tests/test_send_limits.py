"""Telegram's sending limits: the global rate, per chat and per group, priorities, penalties.

The local limiter runs on a fake clock whose sleep only returns when the test
moves time on, so these tests are instant and deterministic. The Redis tests
(TEST_REDIS_URL) use real time, a few seconds at most.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Awaitable
from typing import Any

import pytest
from redis.asyncio import Redis

from storage.send_limits import (
    Grant,
    LocalSendLimiter,
    Priority,
    RedisSendLimiter,
    SendLimiter,
)
from tests.redis_window import global_window_counts

# Short names for the priorities.
INT, PER, BRO = Priority.INTERACTIVE, Priority.PERSONAL, Priority.BROADCAST


class FakeTime:
    """A clock and a sleep: sleepers wake only when the test advances time."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(seconds, 0.0), next(self._seq), future))
        await future

    @property
    def sleepers(self) -> int:
        return sum(not f.done() for _, _, f in self._sleepers)

    async def settle(self) -> None:
        """Let every task that can run, run."""
        for _ in range(50):
            await asyncio.sleep(0)

    def _wake_next(self, until: float | None = None) -> bool:
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)  # cancelled
        if not self._sleepers or (until is not None and self._sleepers[0][0] > until):
            return False
        when, _, future = heapq.heappop(self._sleepers)
        self.now = max(self.now, when)
        future.set_result(None)
        return True

    async def advance(self, seconds: float) -> None:
        target = self.now + seconds
        await self.settle()
        while self._wake_next(until=target):
            await self.settle()
        self.now = target
        await self.settle()

    async def run(self, awaitable: Awaitable[Any]) -> Any:
        """Await while moving time on from one wake-up to the next."""
        task = asyncio.ensure_future(awaitable)
        while True:
            await self.settle()
            if task.done():
                return task.result()
            assert self._wake_next(), "deadlock: everyone waits and nobody sleeps"


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


def local(fake: FakeTime, rate: float, **kwargs: Any) -> LocalSendLimiter:
    return LocalSendLimiter(rate, clock=fake.clock, sleep=fake.sleep, **kwargs)


def most_in_any_window(times: list[float], span: float) -> int:
    """The most sends in any sliding window [t, t+span)."""
    times = sorted(times)
    return max((sum(t <= u < t + span - 1e-9 for u in times) for t in times), default=0)


# --- the global rate --------------------------------------------------------------------


async def test_the_global_rate_holds_in_every_sliding_second(fake: FakeTime) -> None:
    limiter = local(fake, rate=5)
    granted: list[float] = []

    async def send(chat: int, priority: Priority) -> None:
        assert await limiter.acquire(chat, priority) == Grant(True)
        granted.append(fake.now)

    async def produce() -> None:  # 10 a second for 3 seconds, twice the rate
        tasks = []
        for n in range(30):
            tasks.append(asyncio.create_task(send(1000 + n, (PER, BRO)[n % 2])))
            await fake.sleep(0.1)
        await asyncio.gather(*tasks)

    await fake.run(produce())
    assert len(granted) == 30
    assert most_in_any_window(granted, 1.0) == 5
    # The budget is used as soon as it frees: send k goes at k//5 s + (k%5) tenths.
    assert granted == pytest.approx([k // 5 + (k % 5) / 10 for k in range(30)])


async def test_rate_zero_is_unlimited_but_chats_still_count(fake: FakeTime) -> None:
    limiter = local(fake, rate=0)
    grants = await asyncio.gather(*(limiter.acquire(n, BRO) for n in range(1, 1001)))
    assert all(g.ok for g in grants)
    assert fake.now == 0 and fake.sleepers == 0
    refused = await limiter.acquire(1, PER)
    assert not refused.ok and refused.chat_wait == pytest.approx(1.0)


# --- chats ------------------------------------------------------------------------------


async def test_one_a_second_per_private_chat_refusals_not_counted(fake: FakeTime) -> None:
    limiter = local(fake, rate=2)
    assert await limiter.acquire(5, PER) == Grant(True)
    await fake.advance(0.3)
    for priority in (PER, BRO, PER):
        refused = await limiter.acquire(5, priority)
        assert not refused.ok
        assert refused.chat_wait == pytest.approx(0.7)  # not 1.0: the refusal was not counted
    # Nor counted globally: the second of two sends a second still goes at once.
    assert await limiter.acquire(6, BRO, timeout=0) == Grant(True)
    with pytest.raises(TimeoutError):
        await limiter.acquire(7, BRO, timeout=0)
    await fake.advance(0.7)
    assert await limiter.acquire(5, PER) == Grant(True)


async def test_twenty_a_minute_per_group(fake: FakeTime) -> None:
    limiter = local(fake, rate=30)
    for _ in range(20):
        assert await limiter.acquire(-100, BRO) == Grant(True)
        await fake.advance(1)
    refused = await limiter.acquire(-100, PER)  # t=20, the first send was at t=0
    assert not refused.ok and refused.chat_wait == pytest.approx(40)
    assert (await limiter.acquire(-200, BRO)).ok  # another group is free
    await fake.advance(39.5)
    assert (await limiter.acquire(-100, BRO)).chat_wait == pytest.approx(0.5)
    await fake.advance(0.5)
    assert await limiter.acquire(-100, BRO) == Grant(True)
    assert (await limiter.acquire(-100, BRO)).chat_wait == pytest.approx(1.0)  # t=1 is next


async def test_interactive_is_never_refused_for_its_chat_but_counted(fake: FakeTime) -> None:
    limiter = local(fake, rate=100)
    for _ in range(5):
        assert await limiter.acquire(7, INT) == Grant(True)
    assert (await limiter.acquire(7, PER)).chat_wait == pytest.approx(1.0)
    await fake.advance(0.5)
    assert (await limiter.acquire(7, PER)).chat_wait == pytest.approx(0.5)
    assert await limiter.acquire(7, INT) == Grant(True)
    assert (await limiter.acquire(7, PER)).chat_wait == pytest.approx(1.0)  # the reply counted
    for _ in range(25):
        assert await limiter.acquire(-7, INT) == Grant(True)
    assert (await limiter.acquire(-7, BRO)).chat_wait == pytest.approx(60)


async def test_interactive_still_obeys_the_global_rate(fake: FakeTime) -> None:
    limiter = local(fake, rate=2)
    assert (await limiter.acquire(1, INT)).ok and (await limiter.acquire(2, INT)).ok
    with pytest.raises(TimeoutError):
        await limiter.acquire(3, INT, timeout=0)
    assert await fake.run(limiter.acquire(3, INT)) == Grant(True)
    assert fake.now == pytest.approx(1.0)


async def test_a_chat_at_its_limit_is_answered_at_once_while_others_wait(fake: FakeTime) -> None:
    limiter = local(fake, rate=1)
    assert (await limiter.acquire(5, PER)).ok
    waiting = asyncio.create_task(limiter.acquire(6, BRO))
    await fake.advance(0.2)
    assert not waiting.done()
    # Chat 5 is at its limit: no queueing behind the waiter for the global budget.
    assert (await limiter.acquire(5, PER)).chat_wait == pytest.approx(0.8)
    await fake.advance(0.8)
    assert await waiting == Grant(True)


async def test_sent_recently(fake: FakeTime) -> None:
    limiter = local(fake, rate=30)
    assert not await limiter.sent_recently(5)
    await limiter.acquire(5, INT)
    await limiter.acquire(-5, BRO)
    await limiter.acquire(6, BRO)
    await limiter.acquire(6, BRO)  # refused: not a send
    await fake.advance(0.6)
    assert await limiter.sent_recently(5) and await limiter.sent_recently(-5)
    assert not await limiter.sent_recently(5, within=0.5)
    assert await limiter.sent_recently(6)
    await fake.advance(0.4)
    assert not await limiter.sent_recently(5)
    assert await limiter.sent_recently(-5, within=30)


async def test_idle_chats_are_forgotten(fake: FakeTime) -> None:
    limiter = local(fake, rate=0)
    for chat in range(1, 5001):
        await limiter.acquire(chat, BRO)
    assert len(limiter._chats) == 5000
    await fake.advance(61)
    await limiter.acquire(1, BRO)
    assert len(limiter._chats) == 1


# --- priorities and the gate ------------------------------------------------------------


async def test_a_waiting_higher_priority_is_served_first(fake: FakeTime) -> None:
    limiter = local(fake, rate=1)
    assert (await limiter.acquire(1, PER)).ok  # the budget is full until t=1
    served: list[tuple[str, float]] = []

    async def send(name: str, chat: int, priority: Priority) -> None:
        assert (await limiter.acquire(chat, priority)).ok
        served.append((name, fake.now))

    tasks = [asyncio.create_task(send(f"broadcast{n}", 10 + n, BRO)) for n in range(3)]
    await fake.advance(0.3)  # the broadcasts are queued and their head polls
    tasks.append(asyncio.create_task(send("personal", 20, PER)))
    await fake.advance(0.3)
    tasks.append(asyncio.create_task(send("interactive", 21, INT)))
    await fake.run(asyncio.gather(*tasks))
    assert [name for name, _ in served] == [
        "interactive", "personal", "broadcast0", "broadcast1", "broadcast2"]
    assert [t for _, t in served] == pytest.approx([1, 2, 3, 4, 5])


async def test_a_cancelled_waiter_does_not_block_the_gate(fake: FakeTime) -> None:
    limiter = local(fake, rate=1)
    assert (await limiter.acquire(1, PER)).ok
    head = asyncio.create_task(limiter.acquire(2, BRO))
    middle = asyncio.create_task(limiter.acquire(3, BRO))
    last = asyncio.create_task(limiter.acquire(4, BRO))
    await fake.advance(0.2)
    head.cancel()  # sleeping between two looks at the budget
    middle.cancel()  # waiting for its turn
    await fake.settle()
    assert head.cancelled() and middle.cancelled()
    assert await fake.run(last) == Grant(True)
    assert fake.now == pytest.approx(1.0)
    assert limiter._gate.waiting == 0
    assert await fake.run(limiter.acquire(5, INT)) == Grant(True)
    assert fake.now == pytest.approx(2.0)


async def test_a_waiter_cancelled_while_looking_does_not_block_the_gate(fake: FakeTime) -> None:
    limiter = local(fake, rate=10)
    stuck = asyncio.Event()
    real_try = limiter._try

    async def slow_try(chat_id: int, priority: Priority) -> tuple[int, float]:
        if chat_id == 1:
            await stuck.wait()  # a look at Redis that hangs
        return await real_try(chat_id, priority)

    limiter._try = slow_try  # type: ignore[method-assign]
    hanging = asyncio.create_task(limiter.acquire(1, INT))
    behind = asyncio.create_task(limiter.acquire(2, BRO))
    await fake.settle()
    assert not behind.done()  # one look at a time
    hanging.cancel()
    assert await fake.run(behind) == Grant(True)
    assert limiter._gate.waiting == 0


async def test_timeouts_leave_the_gate_in_order(fake: FakeTime) -> None:
    limiter = local(fake, rate=1)
    assert (await limiter.acquire(1, PER)).ok
    ended: dict[str, object] = {}

    async def send(name: str, chat: int, patience: float | None) -> None:
        try:
            await limiter.acquire(chat, BRO, timeout=patience)
            ended[name] = ("sent", fake.now)
        except TimeoutError:
            ended[name] = ("timeout", fake.now)

    tasks = [asyncio.create_task(send("patient", 2, None)),  # the head, no deadline
             asyncio.create_task(send("hasty", 3, 0.25)),  # queued behind it
             asyncio.create_task(send("later", 4, 0.6))]
    await fake.run(asyncio.gather(*tasks))
    assert ended["patient"] == ("sent", pytest.approx(1.0))
    assert ended["hasty"] == ("timeout", pytest.approx(0.25))  # not the head, still on time
    assert ended["later"] == ("timeout", pytest.approx(0.6))
    assert limiter._gate.waiting == 0
    with pytest.raises(TimeoutError):
        await limiter.acquire(5, BRO, timeout=0)  # the budget is full: one look, then give up
    assert await fake.run(limiter.acquire(5, BRO, timeout=1.5)) == Grant(True)


# --- penalties --------------------------------------------------------------------------


async def test_penalise_a_chat(fake: FakeTime) -> None:
    limiter = local(fake, rate=30)
    await limiter.penalise(5, 3)
    assert (await limiter.acquire(5, PER)).chat_wait == pytest.approx(3)
    # Telegram's retry_after holds back even replies (it would refuse them anyway).
    assert (await limiter.acquire(5, INT)).chat_wait == pytest.approx(3)
    assert (await limiter.acquire(6, PER)).ok
    await limiter.penalise(5, 1)  # a shorter penalty does not shorten the longer one
    await fake.advance(2)
    assert (await limiter.acquire(5, PER)).chat_wait == pytest.approx(1)
    await fake.advance(1)
    assert await limiter.acquire(5, PER) == Grant(True)


async def test_penalise_everyone(fake: FakeTime) -> None:
    limiter = local(fake, rate=30)
    assert (await limiter.acquire(5, PER)).ok
    await limiter.penalise(None, 2)
    with pytest.raises(TimeoutError):
        await limiter.acquire(6, INT, timeout=0)
    # A chat at its own limit is still answered at once.
    assert (await limiter.acquire(5, PER)).chat_wait == pytest.approx(1)
    assert await fake.run(limiter.acquire(6, INT)) == Grant(True)
    assert fake.now == pytest.approx(2)


# --- Redis: several processes, one budget -----------------------------------------------


@pytest.fixture
async def redis(redis_prefix):  # type: ignore[no-untyped-def]
    """Two clients (two processes' connections) on a throwaway prefix."""
    if redis_prefix is None:
        pytest.skip("TEST_REDIS_URL is not set")
    url, prefix = redis_prefix
    clients = Redis.from_url(url), Redis.from_url(url)
    yield clients, prefix
    for client in clients:
        await client.aclose()


async def test_redis_two_processes_share_the_global_rate(redis) -> None:  # type: ignore[no-untyped-def]
    (one, two), prefix = redis
    limiters = [RedisSendLimiter(one, prefix, 20), RedisSendLimiter(two, prefix, 20)]
    granted: list[float] = []

    async def send(n: int) -> None:
        assert await limiters[n % 2].acquire(1000 + n, (PER, BRO)[n // 2 % 2]) == Grant(True)
        granted.append(time.monotonic())

    async with global_window_counts(one, prefix) as counts, asyncio.timeout(10):
        await asyncio.gather(*(send(n) for n in range(50)))
    assert len(granted) == 50
    assert max(counts) == 20
    # The same seen from here (a little slack for the round trips' jitter).
    assert most_in_any_window(granted, 0.9) <= 20


async def test_redis_chat_limits_are_shared(redis) -> None:  # type: ignore[no-untyped-def]
    (one, two), prefix = redis
    a, b = RedisSendLimiter(one, prefix, 0), RedisSendLimiter(two, prefix, 0)
    assert await a.acquire(5, PER) == Grant(True)
    refused = await b.acquire(5, BRO)
    assert not refused.ok and 0.5 < refused.chat_wait <= 1.0
    assert await b.acquire(5, INT) == Grant(True)  # interactive: never refused for the chat
    assert await b.sent_recently(5) and not await a.sent_recently(6)
    for n in range(20):
        assert await (a, b)[n % 2].acquire(-100, BRO) == Grant(True)
    refused = await a.acquire(-100, PER)
    assert not refused.ok and 55 < refused.chat_wait <= 60
    assert await a.acquire(-101, PER) == Grant(True)


async def test_redis_penalties_are_shared(redis) -> None:  # type: ignore[no-untyped-def]
    (one, two), prefix = redis
    a, b = RedisSendLimiter(one, prefix, 30), RedisSendLimiter(two, prefix, 30)
    await a.penalise(9, 5)
    await a.penalise(9, 1)  # does not shorten it
    assert 4 < (await b.acquire(9, PER)).chat_wait <= 5
    assert 4 < (await b.acquire(9, INT)).chat_wait <= 5
    assert await b.acquire(10, PER) == Grant(True)
    await a.penalise(None, 0.3)
    with pytest.raises(TimeoutError):
        await b.acquire(11, INT, timeout=0.05)
    async with asyncio.timeout(2):
        assert await b.acquire(11, INT) == Grant(True)


async def test_redis_priority_within_a_process(redis) -> None:  # type: ignore[no-untyped-def]
    (one, _), prefix = redis
    limiter = RedisSendLimiter(one, prefix, 10)
    for n in range(10):
        assert (await limiter.acquire(100 + n, BRO)).ok
    served: list[str] = []

    async def send(name: str, chat: int, priority: Priority) -> None:
        assert (await limiter.acquire(chat, priority)).ok
        served.append(name)

    tasks = [asyncio.create_task(send(f"b{n}", 200 + n, BRO)) for n in range(8)]
    await asyncio.sleep(0.1)
    tasks.append(asyncio.create_task(send("interactive", 300, INT)))
    async with asyncio.timeout(5):
        await asyncio.gather(*tasks)
    assert served[0] == "interactive"
    assert served[1:] == [f"b{n}" for n in range(8)]


async def test_redis_keys_live_under_the_prefix_and_expire(redis) -> None:  # type: ignore[no-untyped-def]
    (one, _), prefix = redis
    limiter: SendLimiter = RedisSendLimiter(one, prefix, 30)
    await limiter.acquire(5, PER)
    await limiter.acquire(-100, BRO)
    await limiter.penalise(9, 5)
    await limiter.penalise(None, 0.5)
    keys = sorted([k.decode() async for k in one.scan_iter(match=f"{prefix}*")])
    assert keys == sorted(f"{prefix}send:{name}" for name in
                          ("global", "chat:5", "chat:-100", "pause:9", "pause"))
    for key in keys:
        assert 0 < await one.pttl(key) <= 60_000
    assert [k async for k in one.scan_iter(match="send:*")] == []


async def test_redis_script_is_loaded_again_when_redis_forgot_it(redis) -> None:  # type: ignore[no-untyped-def]
    (one, _), prefix = redis
    limiter = RedisSendLimiter(one, prefix, 30)
    real_sha = limiter._script.sha
    limiter._script.sha = "0" * 40  # as after SCRIPT FLUSH or a failover: EVALSHA fails
    assert await limiter.acquire(5, PER) == Grant(True)
    assert limiter._script.sha == real_sha
