"""The outbox sender: every notification leaves through here.

It runs inside every ``participa run`` process, beside the update handling
and never in its way: it claims due rows in batches (most urgent first),
takes each send from the shared budget (:mod:`storage.send_limits`), sends
a few at a time, and records what Telegram answered:

- sent → the message id is stored and the row's ``on_sent`` hook runs;
- 429 → the row waits ``retry_after``; so does the chat, or everyone when
  the chat had nothing sent to it just before (then the limit was global);
- network errors and 5xx → retried with growing pauses, then failed;
- 403 → final; the citizen is marked unreachable and later rows skip them;
- a group that became a supergroup → its new id is remembered, resent there;
- any other 400 → failed, with Telegram's words kept.

Broadcast rows also take a send from ``broadcast_limiter`` (at most
:data:`BROADCAST_SHARE` of the rate) before the shared budget.

A crash leaves claimed rows in ``sending``; after the lease they are due
again. Only the rows being sent at that moment (at most ``concurrency``)
can reach someone twice.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot import metrics
from bot.transport import Delivery, Transport
from conversations import sent_hooks
from storage.outbox import LEASE, OutboxResult, OutboxRow, OutboxStore
from storage.send_limits import Grant, Priority, SendLimiter
from storage.sql import SqlUnitOfWork

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
SWEEP_EVERY_S = 10.0
IDLE_POLL_S = 1.0
#: A claimed batch is sent for at most this long; what is left is given back
#: and claimed again, so rows queued meanwhile with a higher priority are next.
BATCH_SECONDS = 1.0
#: The longest a claimed row waits for the budget (a long 429 pause) before it
#: is given back, well within the lease so no other sender takes it meanwhile.
ACQUIRE_TIMEOUT_S = LEASE.total_seconds() / 3
#: Per-chat limits a little under Telegram's (1/s, 20/min): the limiter grants
#: at the exact edge of a window, and the request reaches Telegram a few
#: milliseconds later, not always by the same amount; at the exact limit two
#: sends can arrive closer together than granted and the second gets a 429.
PER_CHAT_PER_SECOND = 0.9
PER_GROUP_PER_MINUTE = 19
#: A 429 for a chat sent to this recently is taken as that chat's limit.
CHAT_BUSY_S = 2.0
#: The part of SEND_RATE a broadcast may use. At full use a sliding window
#: hands each freed slot to whoever waits, so the sends of one second repeat
#: the pattern of the last one: a gap (a slow claim, a pause of the process)
#: comes back every second, and a reply arriving in it waits for it, behind
#: the broadcast. With broadcasts kept to this share (their own window, shared
#: through Redis like the main one), the rest of each second is free for
#: replies and personal notifications, which then hardly ever wait.
BROADCAST_SHARE = 0.8


def utcnow() -> datetime:
    return datetime.now(UTC)


def backoff(attempts: int) -> timedelta:
    """2 s, 4 s, 8 s... capped at 5 minutes."""
    return timedelta(seconds=min(2 ** attempts, 300))


class GroupCommit:
    """Sends that finish at about the same moment are recorded in one transaction.

    The first finished send starts a commit at once; those finishing while it
    runs go into the next one. Each caller returns only once its own row is
    committed, so a lane never takes a new row before its last one is recorded:
    after a crash, the rows that can go out twice are still only the ones in
    flight (at most the sender's concurrency). One short transaction per
    message was the sender's largest cost when the rate is unlimited.
    """

    def __init__(self, store: OutboxStore) -> None:
        self.store = store
        self._waiting: list[tuple[int, int | None, datetime, asyncio.Future[None]]] = []
        self._committing: asyncio.Task[None] | None = None

    async def sent(self, row_id: int, message_id: int | None, at: datetime) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((row_id, message_id, at, done))
        if self._committing is None:
            self._committing = asyncio.create_task(self._commit_all())
        await done

    async def _commit_all(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    await self.store.sent_many([(r, m, a) for r, m, a, _ in batch])
                except Exception as error:
                    for *_, done in batch:
                        done.set_exception(error)
                else:
                    for *_, done in batch:
                        done.set_result(None)
        finally:
            self._committing = None


class OutboxSender:
    def __init__(self, store: OutboxStore, transport: Transport, limiter: SendLimiter, *,
                 clock: Callable[[], datetime] = utcnow, batch: int = 50,
                 concurrency: int = 8, idle_poll: float = IDLE_POLL_S,
                 worker: str | None = None, sweep_every: float = SWEEP_EVERY_S,
                 batch_seconds: float = BATCH_SECONDS, spacing: float = 0.0,
                 broadcast_limiter: SendLimiter | None = None) -> None:
        self.store = store
        self.transport = transport
        self.limiter = limiter
        self.broadcast_limiter = broadcast_limiter
        self.clock = clock
        self.batch = batch
        self.concurrency = concurrency
        self.idle_poll = idle_poll
        self.sweep_every = sweep_every
        self.batch_seconds = batch_seconds
        # Sends spread evenly (1/SEND_RATE apart) instead of in bursts at the
        # edge of each sliding second: see _pace.
        self.spacing = spacing
        self._next_slot = 0.0
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._wake = asyncio.Event()
        self._finished: dict[int, asyncio.Future[OutboxResult]] = {}
        self.sent_count = 0
        self._recorder = GroupCommit(store)

    def wake(self) -> None:
        """Something was queued in this process: look now rather than at the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        last_sweep = loop.time() - self.sweep_every
        while not stop.is_set():
            try:
                if loop.time() - last_sweep >= self.sweep_every:
                    last_sweep = loop.time()
                    await self.store.take_back_stale(self.clock())
                    await self.store.skip_blocked()
                    await self.store.release_held_for_topics(self.clock())
                    await self.store.settle_broadcasts(self.clock())
                # Cleared before looking, so a wake during the claim is not lost.
                self._wake.clear()
                rows = await self.store.claim(self.worker, self.clock(), self.batch)
            except Exception as error:  # the database is down: wait, try again
                log.warning("outbox: cannot claim (%s)", type(error).__name__)
                await self._idle(stop, 2.0)
                continue
            if not rows:
                await self._idle(stop, await self._until_next_due())
                continue
            await self._send_batch(rows, stop)

    async def _send_batch(self, rows: list[OutboxRow], stop: asyncio.Event) -> None:
        queue: asyncio.Queue[OutboxRow] = asyncio.Queue()
        for row in rows:
            queue.put_nowait(row)
        loop = asyncio.get_running_loop()
        until = loop.time() + self.batch_seconds

        async def lane() -> None:
            while not stop.is_set() and loop.time() < until:
                try:
                    row = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                try:
                    await self.send_one(row)
                except Exception:
                    # The row stays claimed and is taken back after the lease.
                    log.exception("outbox: row %s not recorded", row.id)

        await asyncio.gather(*(lane() for _ in range(min(self.concurrency, len(rows)))))
        # Stopping, or the batch's time is up: give back what was not tried.
        left = []
        while not queue.empty():
            left.append(queue.get_nowait().id)
        await self.store.release(self.worker, left)

    async def send_one(self, row: OutboxRow) -> None:
        group = row.chat_id < 0
        await self._pace()
        try:
            busy_before = await self.limiter.sent_recently(
                row.chat_id, 60.0 if group else CHAT_BUSY_S)
            grant = Grant(True)
            if self.broadcast_limiter is not None and row.priority >= Priority.BROADCAST:
                # Its own window has no per-chat limits: chat 0 stands for all.
                grant = await self.broadcast_limiter.acquire(0, Priority.BROADCAST,
                                                             timeout=ACQUIRE_TIMEOUT_S)
            if grant.ok:
                grant = await self.limiter.acquire(row.chat_id, Priority(row.priority),
                                                   timeout=ACQUIRE_TIMEOUT_S)
        except TimeoutError:
            # A long pause (429): nothing was sent; due again at once, not an attempt.
            await self.store.later(row.id, self.clock(), None, counts_as_attempt=False)
            return
        except Exception:
            # The limiter's store (Redis) failed: nothing was sent; give the
            # row back for a little later instead of holding it for the lease.
            await self.store.later(row.id, self.clock() + timedelta(seconds=2), None,
                                   counts_as_attempt=False)
            raise
        now = self.clock()
        if not grant.ok:
            await self.store.later(row.id, now + timedelta(seconds=grant.chat_wait), None,
                                   counts_as_attempt=False)
            return
        delivery = await self.transport.send_queued(row)
        await self._record(row, delivery, busy_before, now)

    async def _pace(self) -> None:
        """Start sends at most one per ``spacing`` seconds (on a schedule, so
        the average rate is kept). The limiter alone lets a whole second's
        budget go at once, then the next second's at the exact edge of the
        window; the requests reach Telegram a few ms apart from their grants,
        not always by the same amount, and with SEND_RATE just under
        Telegram's limit two extra sends then land in one of its seconds: a
        429 for everyone. Spread out, the jitter would have to exceed the
        spacing. The limiter still decides; this only shapes the traffic."""
        if self.spacing <= 0:
            return
        now = asyncio.get_running_loop().time()
        slot = max(now, self._next_slot)
        self._next_slot = slot + self.spacing
        if slot > now:
            await asyncio.sleep(slot - now)

    async def _record(self, row: OutboxRow, delivery: Delivery, chat_was_busy: bool,
                      now: datetime) -> None:
        metrics.TELEGRAM_ANSWERS.labels(
            metrics.delivery_code(delivery.outcome, delivery.retry_after)).inc()
        if delivery.outcome == "sent":
            metrics.OUTBOX_SENT.labels(metrics.priority_name(row.priority)).inc()
            await self._recorder.sent(row.id, delivery.message_id, self.clock())
            self.sent_count += 1
            await self._run_hook(row, delivery.message_id)
            self._finish(row.id, OutboxResult("sent", delivery.message_id, None))
        elif delivery.outcome == "retry" and delivery.retry_after is not None:
            wait = delivery.retry_after
            await self.limiter.penalise(row.chat_id if chat_was_busy else None, wait)
            log.warning("outbox: 429, waiting %.0f s (%s)", wait,
                        "this chat" if chat_was_busy else "everyone")
            await self.store.later(row.id, now + timedelta(seconds=wait), delivery.error,
                                   counts_as_attempt=False)
        elif delivery.outcome == "retry":
            if row.attempts >= MAX_ATTEMPTS:
                await self._failed(row, f"gave up after {row.attempts} attempts: "
                                        f"{delivery.error}")
            else:
                await self.store.later(row.id, now + backoff(row.attempts), delivery.error)
        elif delivery.outcome == "blocked":
            await self.store.blocked(row.id, delivery.error or "forbidden", now)
            self._finish(row.id, OutboxResult("blocked", None, delivery.error))
        elif delivery.outcome == "moved" and delivery.new_chat_id is not None:
            await self.store.moved(row.id, row.chat_id, delivery.new_chat_id, now)
        else:
            await self._failed(row, delivery.error or "refused")

    async def _failed(self, row: OutboxRow, error: str) -> None:
        log.warning("outbox: row %s failed: %s", row.id, error)
        await self.store.failed(row.id, error)
        self._finish(row.id, OutboxResult("failed", None, error))

    async def _run_hook(self, row: OutboxRow, message_id: int | None) -> None:
        if not row.on_sent:
            return
        found = sent_hooks.find(row.on_sent)
        if found is None:
            log.error("outbox: no hook %r for row %s", row.on_sent, row.id)
            return
        hook, arg = found
        try:
            async with SqlUnitOfWork(self.store.sessions) as uow:
                await hook(uow, arg, message_id)
                await uow.commit()
        except Exception:
            log.exception("outbox: hook %r failed for row %s", row.on_sent, row.id)

    def _finish(self, row_id: int, result: OutboxResult) -> None:
        waiter = self._finished.pop(row_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(result)

    async def wait_for(self, row_id: int, timeout: float) -> OutboxResult | None:  # noqa: ASYNC109
        """The row's final result, whichever process sends it (None: not final in time)."""
        loop = asyncio.get_running_loop()
        waiter = self._finished.setdefault(row_id, loop.create_future())
        deadline = loop.time() + timeout
        try:
            while True:
                result = await self.store.result(row_id)
                if result is not None and result.final:
                    return result
                left = deadline - loop.time()
                if left <= 0:
                    return None
                # Woken at once when this process sends it; polled for the others.
                done, _ = await asyncio.wait({waiter}, timeout=min(left, 0.25))
                if done:
                    return waiter.result()
        finally:
            if self._finished.get(row_id) is waiter:
                del self._finished[row_id]

    async def _until_next_due(self) -> float:
        try:
            due = await self.store.next_due()
        except Exception:
            return self.idle_poll
        if due is None:
            return self.idle_poll
        return max(0.0, min(self.idle_poll, (due - self.clock()).total_seconds()))

    async def _idle(self, stop: asyncio.Event, seconds: float) -> None:
        waits = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
