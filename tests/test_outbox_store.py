"""The outbox table: queued once, claimed once, never lost."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from storage import models as m
from storage.outbox import LEASE, NewNotification, OutboxStore
from storage.sql import SqlUnitOfWork
from tests.harness import NOW


async def queue(sessions, *items: NewNotification) -> list[int | None]:  # type: ignore[no-untyped-def]
    async with SqlUnitOfWork(sessions) as uow:
        ids = [await uow.outbox.enqueue(item) for item in items]
        await uow.commit()
    return ids


def note(chat_id: int, **fields) -> NewNotification:  # type: ignore[no-untyped-def]
    return NewNotification(chat_id=chat_id, created_at=NOW, body=f"hello {chat_id}", **fields)


async def add_citizen(sessions, telegram_id: int) -> int:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        citizen = m.Citizen(telegram_id=telegram_id, language="es", first_seen=NOW,
                            last_seen=NOW)
        session.add(citizen)
        await session.commit()
        return citizen.id


async def test_a_dedupe_key_queues_one_row(sessions):  # type: ignore[no-untyped-def]
    first, second, other = await queue(sessions, note(1, dedupe_key="reminder:48h:ws:1"),
                                       note(1, dedupe_key="reminder:48h:ws:1"),
                                       note(1, dedupe_key="reminder:2h:ws:1"))
    assert first is not None and second is None and other is not None
    assert sum((await OutboxStore(sessions).depth()).values()) == 2


async def test_nothing_is_queued_when_the_event_rolls_back(sessions):  # type: ignore[no-untyped-def]
    async with SqlUnitOfWork(sessions) as uow:
        await uow.outbox.enqueue(note(5))
    assert await OutboxStore(sessions).depth() == {}


async def test_rows_to_a_private_chat_are_linked_to_the_citizen(sessions):  # type: ignore[no-untyped-def]
    citizen_id = await add_citizen(sessions, 777)
    await queue(sessions, note(777), note(-100500))
    async with sessions() as session:
        linked = dict((await session.execute(
            select(m.OutboxMessage.chat_id, m.OutboxMessage.citizen_id))).all())
    assert linked == {777: citizen_id, -100500: None}


async def test_claims_take_the_most_urgent_due_rows_first(sessions):  # type: ignore[no-untyped-def]
    await queue(sessions, note(1, priority=2), note(2, priority=1),
                note(3, priority=1, not_before=NOW + timedelta(minutes=5)), note(4, priority=2))
    store = OutboxStore(sessions)
    claimed = await store.claim("w1", NOW, 10)
    assert [r.chat_id for r in claimed] == [2, 1, 4]
    assert all(r.attempts == 1 for r in claimed)
    assert await store.claim("w2", NOW, 10) == []  # claimed rows are not claimed again
    assert [r.chat_id for r in await store.claim("w2", NOW + timedelta(minutes=5), 10)] == [3]


async def test_concurrent_claimers_never_share_a_row(sessions):  # type: ignore[no-untyped-def]
    await queue(sessions, *(note(n) for n in range(1, 201)))
    store = OutboxStore(sessions)
    batches = await asyncio.gather(*(store.claim(f"w{n}", NOW, 25) for n in range(12)))
    ids = [row.id for batch in batches for row in batch]
    assert len(ids) == len(set(ids)) == 200


async def test_a_dead_senders_claims_come_back_after_the_lease(sessions):  # type: ignore[no-untyped-def]
    await queue(sessions, note(1), note(2))
    store = OutboxStore(sessions)
    await store.claim("dead", NOW, 10)
    assert await store.take_back_stale(NOW + LEASE - timedelta(seconds=1)) == 0
    assert await store.take_back_stale(NOW + LEASE + timedelta(seconds=1)) == 2
    assert len(await store.claim("alive", NOW + LEASE, 10)) == 2


async def test_released_rows_are_due_again_without_counting_an_attempt(sessions):  # type: ignore[no-untyped-def]
    [row_id] = await queue(sessions, note(1))
    store = OutboxStore(sessions)
    await store.claim("w", NOW, 10)
    await store.release("w", [row_id])
    [again] = await store.claim("w", NOW, 10)
    assert again.attempts == 1


async def test_outcomes_are_recorded(sessions):  # type: ignore[no-untyped-def]
    citizen_id = await add_citizen(sessions, 42)
    sent, failed, blocked, later, moved = await queue(
        sessions, note(1), note(2), note(42), note(3), note(-100, thread_id=None))
    store = OutboxStore(sessions)
    await store.claim("w", NOW, 10)
    await store.sent(sent, 9001, NOW)
    await store.failed(failed, "Bad Request: chat not found")
    await store.blocked(blocked, "Forbidden: bot was blocked by the user", NOW)
    await store.later(later, NOW + timedelta(seconds=30), "Too Many Requests: retry after 30")
    await store.moved(moved, -100, -1001234, NOW)
    assert (await store.result(sent)).sent_message_id == 9001
    assert (await store.result(failed)).status == "failed"
    assert (await store.result(blocked)).status == "blocked"
    assert (await store.result(later)).status == "pending"
    async with sessions() as session:
        citizen = await session.get(m.Citizen, citizen_id)
        assert citizen.blocked_bot is True
        migration = await session.get(m.ChatMigration, -100)
        assert migration.new_chat_id == -1001234
    assert [r.chat_id for r in await store.claim("w", NOW, 10)] == [-1001234]
    assert [r.chat_id for r in await store.claim("w", NOW + timedelta(seconds=31), 10)] == [3]


async def test_rows_to_citizens_who_blocked_the_bot_are_skipped(sessions):  # type: ignore[no-untyped-def]
    await add_citizen(sessions, 42)
    await queue(sessions, note(42), note(43))
    async with sessions() as session:
        citizen = (await session.execute(select(m.Citizen))).scalar_one()
        citizen.blocked_bot = True
        await session.commit()
    store = OutboxStore(sessions)
    assert await store.skip_blocked() == 1
    assert [r.chat_id for r in await store.claim("w", NOW, 10)] == [43]
