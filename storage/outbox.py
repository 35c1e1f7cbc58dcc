"""The outbox: notifications queued with the event that caused them, and the
sender's side (claim due rows, record what Telegram answered).

Life of a row: ``pending`` → claimed (``sending``, with the claimer and the
time) → ``sent`` | ``failed`` | ``blocked``; or back to ``pending`` with a
later ``not_before`` (rate limit, a 429, a network error). A broadcast's
rows are ``paused`` while it is paused (never claimed) and ``cancelled``
when it is cancelled. A claim that was
never finished (the process died) is taken back after :data:`LEASE`, so no
row is missed; only rows in flight at the moment of the crash can go out
twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import String, cast, exists, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from storage import models as m
from storage.upsert import insert_for

# Longer than a send can take (request timeout and retries), so a live
# sender's claim is never taken from it.
LEASE = timedelta(seconds=90)
FINAL = ("sent", "failed", "blocked", "cancelled")


@dataclass(frozen=True, slots=True)
class NewNotification:
    chat_id: int
    created_at: datetime
    body: str | None = None
    buttons: list[list[list[str]]] | None = None
    thread_id: int | None = None
    citizen_id: int | None = None
    kind: str = "message"
    copy_from_chat_id: int | None = None
    copy_message_id: int | None = None
    priority: int = 1
    dedupe_key: str | None = None
    on_sent: str | None = None
    not_before: datetime | None = None
    target_message_id: int | None = None
    held: bool = False  # queued, but sent only once released (see SqlOutbox.release)
    not_after: datetime | None = None


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    chat_id: int
    thread_id: int | None
    citizen_id: int | None
    kind: str
    body: str | None
    buttons: list | None
    copy_from_chat_id: int | None
    copy_message_id: int | None
    priority: int
    attempts: int
    on_sent: str | None
    target_message_id: int | None = None


@dataclass(frozen=True, slots=True)
class OutboxResult:
    status: str
    sent_message_id: int | None
    last_error: str | None

    @property
    def final(self) -> bool:
        return self.status in FINAL


def _claimable() -> tuple:
    """Pending rows a sender may take (once due)."""
    row, earlier = m.OutboxMessage, aliased(m.OutboxMessage)
    return (
        row.status == "pending",
        # One chat's messages arrive in the order they were queued: a row
        # waits while an earlier one to its chat, as urgent or more, is open
        # (waiting for the chat's limit or a retry, or in flight).
        ~exists().where(earlier.chat_id == row.chat_id, earlier.id < row.id,
                        earlier.status.in_(("pending", "sending")),
                        earlier.priority <= row.priority),
        # Never to a citizen who blocked the bot (the sweep marks these rows).
        ~exists().where(m.Citizen.id == row.citizen_id, m.Citizen.blocked_bot.is_(True)),
        # Nor a row of a paused or cancelled broadcast that came back as pending
        # (it was being sent at that moment; the sweep sets it aside).
        ~exists().where(m.Broadcast.id == row.broadcast_id,
                        m.Broadcast.status.in_(("paused", "cancelled"))),
    )


def _row(r: m.OutboxMessage) -> OutboxRow:
    return OutboxRow(r.id, r.chat_id, r.thread_id, r.citizen_id, r.kind, r.body, r.buttons,
                     r.copy_from_chat_id, r.copy_message_id, r.priority, r.attempts, r.on_sent,
                     r.target_message_id)


class SqlOutbox:
    """Enqueueing, inside an event's unit of work."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def enqueue(self, item: NewNotification) -> int | None:
        """The new row's id, or None when a row with the same dedupe key exists."""
        citizen_id = item.citizen_id
        if citizen_id is None and item.chat_id > 0:
            # A private chat's id is the person's id: link the row to the citizen,
            # so a 403 marks them and later rows to them are skipped.
            citizen_id = select(m.Citizen.id).where(
                m.Citizen.telegram_id == item.chat_id).scalar_subquery()
        values = {
            "chat_id": item.chat_id, "thread_id": item.thread_id, "citizen_id": citizen_id,
            "kind": item.kind, "body": item.body, "buttons": item.buttons,
            "copy_from_chat_id": item.copy_from_chat_id, "copy_message_id": item.copy_message_id,
            "priority": item.priority, "dedupe_key": item.dedupe_key, "on_sent": item.on_sent,
            "not_before": item.not_before or item.created_at, "not_after": item.not_after,
            "status": "held" if item.held else "pending",
            "target_message_id": item.target_message_id,
            "attempts": 0, "created_at": item.created_at,
        }
        stmt = insert_for(self.session, m.OutboxMessage).values(**values)
        if item.dedupe_key is not None:
            stmt = stmt.on_conflict_do_nothing(index_elements=["dedupe_key"])
        result = await self.session.execute(stmt.returning(m.OutboxMessage.id))
        return result.scalar_one_or_none()

    async def cancel_to(self, chat_id: int, reason: str) -> int:
        """Cancel what is still queued for this person (consent withdrawn)."""
        result = await self.session.execute(
            update(m.OutboxMessage)
            .where(m.OutboxMessage.chat_id == chat_id,
                   m.OutboxMessage.status.in_(("pending", "sending", "held", "paused")))
            .values(status="cancelled", last_error=reason)
            .execution_options(synchronize_session=False))
        return result.rowcount or 0

    async def release(self, key_prefix: str, thread_id: int | None, now: datetime) -> int:
        """Held rows whose dedupe key starts with ``key_prefix`` become due now,
        in ``thread_id`` (the forum topic they were waiting for)."""
        result = await self.session.execute(
            update(m.OutboxMessage)
            .where(m.OutboxMessage.status == "held",
                   m.OutboxMessage.dedupe_key.startswith(key_prefix, autoescape=True))
            .values(status="pending", thread_id=thread_id, not_before=now)
            .execution_options(synchronize_session=False))
        return result.rowcount or 0


class OutboxStore:
    """The sender's side: each call is its own short transaction."""

    def __init__(self, sessions: async_sessionmaker) -> None:
        self.sessions = sessions

    async def claim(self, worker: str, now: datetime, limit: int) -> list[OutboxRow]:
        """Take up to ``limit`` due rows, most urgent first, for this worker only.

        A row waits while an earlier row to the same chat (as urgent or more)
        is open, so each chat gets its messages in queue order, and rows to
        citizens who blocked the bot are never taken.

        PostgreSQL: ``FOR UPDATE SKIP LOCKED`` lets several senders claim side
        by side without waiting for or double-claiming each other's rows.
        SQLite has one writer at a time, which makes this single statement
        a single claimer by itself.
        """
        row = m.OutboxMessage
        async with self.sessions() as session:
            # Rows past their ``not_after`` (a reminder of a workshop that has
            # started, after downtime) are dropped, never sent late.
            await session.execute(
                update(row).where(row.status == "pending", row.not_after.is_not(None),
                                  row.not_after <= now)
                .values(status="cancelled", last_error="expired before it could be sent")
                .execution_options(synchronize_session=False))
            due = (select(row.id)
                   .where(*_claimable(), row.not_before <= now)
                   .order_by(row.priority, row.not_before, row.id)
                   .limit(limit))
            if session.bind.dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            rows = (await session.execute(
                update(m.OutboxMessage)
                .where(m.OutboxMessage.id.in_(due.scalar_subquery()))
                .values(status="sending", claimed_by=worker, claimed_at=now,
                        attempts=m.OutboxMessage.attempts + 1)
                .returning(m.OutboxMessage)
                .execution_options(synchronize_session=False)
            )).scalars().all()
            await session.commit()
        return sorted((_row(r) for r in rows), key=lambda r: (r.priority, r.id))

    async def skip_blocked(self) -> int:
        """Rows to citizens who blocked the bot end as ``blocked`` without a send."""
        async with self.sessions() as session:
            blocked = select(m.Citizen.id).where(m.Citizen.blocked_bot.is_(True))
            result = await session.execute(
                update(m.OutboxMessage)
                .where(m.OutboxMessage.status == "pending",
                       m.OutboxMessage.citizen_id.in_(blocked.scalar_subquery()))
                .values(status="blocked", last_error="the citizen blocked the bot")
                .execution_options(synchronize_session=False))
            await session.commit()
            return result.rowcount or 0

    async def settle_broadcasts(self, now: datetime) -> None:
        """Rows of paused or cancelled broadcasts follow them; finished ones are done."""
        from storage.broadcasts import settle

        await settle(self.sessions, now)

    async def take_back_stale(self, now: datetime) -> int:
        """Claims older than the lease (a sender died): due again."""
        async with self.sessions() as session:
            result = await session.execute(
                update(m.OutboxMessage)
                .where(m.OutboxMessage.status == "sending",
                       m.OutboxMessage.claimed_at < now - LEASE)
                .values(status="pending", claimed_by=None, claimed_at=None)
                .execution_options(synchronize_session=False))
            await session.commit()
            return result.rowcount or 0

    async def release_held_for_topics(self, now: datetime) -> int:
        """Held posts of tickets whose forum topic exists become due, in it.

        The topic's hook releases them as soon as the topic is created; this
        sweep catches a post queued in the instant the hook ran (its event's
        transaction saw no topic yet, and the hook's update did not see its
        row), which would otherwise wait for ever."""
        ticket_key = literal("ticket:") + cast(m.Ticket.id, String) + literal(":%")
        topic = (select(m.Ticket.topic_id)
                 .where(m.Ticket.topic_id.is_not(None),
                        m.OutboxMessage.dedupe_key.like(ticket_key))
                 .limit(1).scalar_subquery())
        async with self.sessions() as session:
            result = await session.execute(
                update(m.OutboxMessage)
                .where(m.OutboxMessage.status == "held", topic.is_not(None))
                .values(status="pending", thread_id=topic, not_before=now)
                .execution_options(synchronize_session=False))
            await session.commit()
            return result.rowcount or 0

    async def release(self, worker: str, ids: list[int]) -> None:
        """Give back claimed rows never tried (a graceful stop)."""
        if not ids:
            return
        async with self.sessions() as session:
            await session.execute(
                update(m.OutboxMessage)
                .where(m.OutboxMessage.id.in_(ids), m.OutboxMessage.status == "sending",
                       m.OutboxMessage.claimed_by == worker)
                .values(status="pending", claimed_by=None, claimed_at=None,
                        attempts=m.OutboxMessage.attempts - 1)
                .execution_options(synchronize_session=False))
            await session.commit()

    async def sent_many(self, done: list[tuple[int, int | None, datetime]]) -> None:
        """Record several sends in one transaction (the sender's group commit)."""
        if not done:
            return
        async with self.sessions() as session:
            await session.execute(update(m.OutboxMessage), [
                {"id": row_id, "status": "sent", "sent_message_id": message_id,
                 "sent_at": at, "last_error": None}
                for row_id, message_id, at in done])
            await session.commit()

    async def sent(self, row_id: int, message_id: int | None, now: datetime) -> None:
        await self._finish(row_id, status="sent", sent_message_id=message_id, sent_at=now,
                           last_error=None)

    async def failed(self, row_id: int, error: str) -> None:
        await self._finish(row_id, status="failed", last_error=error[:500])

    async def blocked(self, row_id: int, error: str, now: datetime) -> None:
        """403: final for this row, and the citizen is marked unreachable."""
        async with self.sessions() as session:
            row = await session.get(m.OutboxMessage, row_id)
            if row is None:
                return
            row.status, row.last_error = "blocked", error[:500]
            if row.citizen_id is not None:
                await session.execute(
                    update(m.Citizen).where(m.Citizen.id == row.citizen_id)
                    .values(blocked_bot=True, blocked_at=now))
            else:
                await session.execute(
                    update(m.Citizen).where(m.Citizen.telegram_id == row.chat_id)
                    .values(blocked_bot=True, blocked_at=now))
            # The chat's other queued rows would get the same answer: final now.
            await session.execute(
                update(m.OutboxMessage)
                .where(m.OutboxMessage.chat_id == row.chat_id, m.OutboxMessage.id != row_id,
                       m.OutboxMessage.status == "pending")
                .values(status="blocked", last_error=row.last_error)
                .execution_options(synchronize_session=False))
            await session.commit()

    async def later(self, row_id: int, not_before: datetime, error: str | None,
                    *, counts_as_attempt: bool = True) -> None:
        """Due again at ``not_before`` (429, network error, the chat's own limit)."""
        values: dict = {"status": "pending", "not_before": not_before, "claimed_by": None,
                        "claimed_at": None}
        if error is not None:
            values["last_error"] = error[:500]
        if not counts_as_attempt:
            values["attempts"] = m.OutboxMessage.attempts - 1
        async with self.sessions() as session:
            await session.execute(update(m.OutboxMessage).where(m.OutboxMessage.id == row_id)
                                  .values(**values).execution_options(synchronize_session=False))
            await session.commit()

    async def moved(self, row_id: int, old_chat_id: int, new_chat_id: int,
                    now: datetime) -> None:
        """The group became a supergroup: remember the new id, and resend there now."""
        async with self.sessions() as session:
            await session.execute(insert_for(session, m.ChatMigration).values(
                old_chat_id=old_chat_id, new_chat_id=new_chat_id, migrated_at=now,
            ).on_conflict_do_nothing(index_elements=["old_chat_id"]))
            await session.execute(
                update(m.OutboxMessage)
                .where(m.OutboxMessage.chat_id == old_chat_id,
                       m.OutboxMessage.status.in_(("pending", "sending", "held")))
                .values(chat_id=new_chat_id)
                .execution_options(synchronize_session=False))
            await session.execute(
                update(m.OutboxMessage).where(m.OutboxMessage.id == row_id)
                .values(status="pending", not_before=now, claimed_by=None, claimed_at=None)
                .execution_options(synchronize_session=False))
            await session.commit()

    async def result(self, row_id: int) -> OutboxResult | None:
        async with self.sessions() as session:
            found = (await session.execute(
                select(m.OutboxMessage.status, m.OutboxMessage.sent_message_id,
                       m.OutboxMessage.last_error).where(m.OutboxMessage.id == row_id))).first()
        return OutboxResult(*found) if found else None

    async def next_due(self) -> datetime | None:
        """When the earliest row :meth:`claim` may take becomes due (to sleep
        until then). Rows behind an earlier row to their chat are left out:
        they follow it, and counting them would wake the sender for nothing."""
        async with self.sessions() as session:
            return (await session.execute(
                select(func.min(m.OutboxMessage.not_before))
                .where(*_claimable()))).scalar_one_or_none()

    async def depth(self) -> dict[tuple[str, int], int]:
        """Rows by (status, priority), for operators and metrics."""
        async with self.sessions() as session:
            rows = await session.execute(
                select(m.OutboxMessage.status, m.OutboxMessage.priority, func.count())
                .group_by(m.OutboxMessage.status, m.OutboxMessage.priority))
            return {(status, priority): count for status, priority, count in rows}

    async def waiting(self) -> dict[int, int]:
        """Rows still to be sent (pending or being sent), by priority: the
        metrics' outbox depth, without counting the sent history."""
        async with self.sessions() as session:
            rows = await session.execute(
                select(m.OutboxMessage.priority, func.count())
                .where(m.OutboxMessage.status.in_(("pending", "sending")))
                .group_by(m.OutboxMessage.priority))
            return {priority: count for priority, count in rows}

    async def _finish(self, row_id: int, **values: object) -> None:
        async with self.sessions() as session:
            await session.execute(update(m.OutboxMessage).where(m.OutboxMessage.id == row_id)
                                  .values(**values).execution_options(synchronize_session=False))
            await session.commit()
