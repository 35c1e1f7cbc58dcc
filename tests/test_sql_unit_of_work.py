"""The SQL unit of work keeps the last writes of an event for the commit's hop.

The conversation's state and the person's last-seen time are written in the
same trip into SQLAlchemy as the commit (storage/sql.py: Link). What a user
would notice if that went wrong: a step remembered that was rolled back, a
step forgotten that was committed, or half an event stored.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from storage import models as m
from storage.database import create_engine
from storage.errors import is_unavailable
from storage.records import NewOpinion, StateRecord
from tests.harness import NOW


async def _citizen_and_service(backend) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    await backend.add_lab("lab", "Lab", ["Phone line 012"])
    async with backend.uow() as uow:
        citizen = await uow.citizens.register(42, "ana", "Ana", "en", NOW)
        await uow.commit()
    async with backend.sessions() as session:
        service_id = (await session.execute(select(m.Service.id))).scalar_one()
    return citizen.id, service_id


async def _state(backend, user_id: int = 42) -> StateRecord:  # type: ignore[no-untyped-def]
    async with backend.uow() as uow:
        return await uow.conversations.load(user_id, user_id)


def _at(step: int) -> StateRecord:
    return StateRecord(42, 42, "opinion", "rating", step, {"service": 1})


async def test_a_saved_state_is_stored_by_the_commit(sql_backend):  # type: ignore[no-untyped-def]
    async with sql_backend.uow() as uow:
        await uow.conversations.save(_at(3), NOW)
        await uow.commit()
    stored = await _state(sql_backend)
    assert (stored.flow, stored.state, stored.step, stored.data) == (
        "opinion", "rating", 3, {"service": 1})


async def test_the_next_read_in_the_same_event_sees_the_saved_state(sql_backend):  # type: ignore[no-untyped-def]
    async with sql_backend.uow() as uow:
        await uow.conversations.save(_at(3), NOW)
        assert (await uow.conversations.load(42, 42)).step == 3
        await uow.conversations.save(_at(4), NOW)
        await uow.commit()
    assert (await _state(sql_backend)).step == 4


async def test_a_save_without_commit_or_rolled_back_is_not_stored(sql_backend):  # type: ignore[no-untyped-def]
    async with sql_backend.uow() as uow:
        await uow.conversations.save(_at(3), NOW)
    assert (await _state(sql_backend)).is_new
    async with sql_backend.uow() as uow:
        await uow.conversations.save(_at(3), NOW)
        await uow.rollback()
        await uow.commit()
    assert (await _state(sql_backend)).is_new


async def test_the_state_saved_is_the_one_at_save_time(sql_backend):  # type: ignore[no-untyped-def]
    state = _at(3)
    async with sql_backend.uow() as uow:
        await uow.conversations.save(state, NOW)
        state.data["service"] = 2  # a later change is the next save's business
        await uow.commit()
    assert (await _state(sql_backend)).data == {"service": 1}


async def test_last_seen_is_written_with_the_commit(sql_backend):  # type: ignore[no-untyped-def]
    await _citizen_and_service(sql_backend)
    later = NOW + timedelta(hours=2)
    async with sql_backend.uow() as uow:
        citizen = await uow.citizens.by_telegram_id(42)
        await uow.citizens.seen(citizen, "ana_new", later)
        await uow.commit()
    row = await sql_backend.citizen(42)
    assert row["username"] == "ana_new"
    assert row["last_seen"].replace(tzinfo=None) == later.replace(tzinfo=None)


async def test_a_save_refused_at_commit_takes_the_whole_event_with_it(sql_backend):  # type: ignore[no-untyped-def]
    """The opinion and the state are one event: if the state cannot be
    written, the opinion is not stored either, and the error reaches the
    engine (which then tells the person, and Telegram delivers again)."""
    citizen_id, service_id = await _citizen_and_service(sql_backend)
    broken = StateRecord(42, 42, "opinion", "done", 5, {"unstorable": object()})
    with pytest.raises(Exception):  # noqa: B017 - the driver's own error type
        async with sql_backend.uow() as uow:
            await uow.opinions.add(NewOpinion(citizen_id, service_id, 4, "Good", None, None,
                                              "en", "telegram", NOW))
            await uow.conversations.save(broken, NOW)
            await uow.commit()
    assert await sql_backend.opinions() == []
    assert (await _state(sql_backend)).is_new


# -- exactly once, with the mark written at the commit (PostgreSQL) ----------
#
# On PostgreSQL an event's start only reads whether its update was handled;
# the mark is written with the event's last writes (storage/sql.py: Link).
# Two workers that both started the same update therefore both run it, and
# the commit must keep exactly one of them.


def _postgresql_only(backend) -> None:  # type: ignore[no-untyped-def]
    if backend.name != "postgresql":
        pytest.skip("SQLite marks the update when the event starts, under its write lock")


async def _processed(backend) -> int:  # type: ignore[no-untyped-def]
    return await backend.count("processed_updates")


async def test_of_two_workers_on_one_update_only_the_first_commit_is_kept(sql_backend):  # type: ignore[no-untyped-def]
    _postgresql_only(sql_backend)
    await _citizen_and_service(sql_backend)
    async with sql_backend.uow() as slow, sql_backend.uow() as quick:
        slow_start = await slow.start_event(7001, NOW, 42, 42)
        quick_start = await quick.start_event(7001, NOW, 42, 42)
        assert slow_start.fresh and quick_start.fresh
        for uow, start, name, step in ((slow, slow_start, "ana_slow", 9),
                                       (quick, quick_start, "ana_quick", 3)):
            await uow.citizens.seen(start.citizen, name, NOW)
            await uow.conversations.save(_at(step), NOW)
        assert await quick.commit() is True
        assert await slow.commit() is False
    assert (await _state(sql_backend)).step == 3
    assert (await sql_backend.citizen(42))["username"] == "ana_quick"
    assert await _processed(sql_backend) == 1


async def test_a_worker_that_wrote_first_holds_the_other_back_until_it_commits(sql_backend):  # type: ignore[no-untyped-def]
    """An event whose writes began before its last ones takes the update's
    mark with the first of them: a second worker on the same update waits
    for that mark (never for a row the first holds while the first waits
    for it: a deadlock), then keeps nothing."""
    _postgresql_only(sql_backend)
    citizen_id, service_id = await _citizen_and_service(sql_backend)
    async with sql_backend.uow() as first, sql_backend.uow() as second:
        first_start = await first.start_event(7001, NOW, 42, 42)
        second_start = await second.start_event(7001, NOW, 42, 42)
        assert first_start.fresh and second_start.fresh
        await first.citizens.seen(first_start.citizen, "ana_first", NOW)
        await first.opinions.add(NewOpinion(citizen_id, service_id, 2, "Once", None, None,
                                            "en", "telegram", NOW))
        await second.citizens.seen(second_start.citizen, "ana_second", NOW)
        await second.conversations.save(_at(3), NOW)
        waiting = asyncio.create_task(second.commit())
        await asyncio.sleep(0.3)
        assert not waiting.done()  # held back by the first one's mark
        await first.conversations.save(_at(9), NOW)
        assert await first.commit() is True
        assert await asyncio.wait_for(waiting, 10) is False
    assert (await _state(sql_backend)).step == 9
    assert (await sql_backend.citizen(42))["username"] == "ana_first"
    assert [o["comment"] for o in await sql_backend.opinions()] == ["Once"]
    assert await _processed(sql_backend) == 1


async def test_a_worker_that_finds_the_mark_taken_at_its_first_write_keeps_nothing(
        sql_backend):  # type: ignore[no-untyped-def]
    _postgresql_only(sql_backend)
    citizen_id, service_id = await _citizen_and_service(sql_backend)
    async with sql_backend.uow() as first, sql_backend.uow() as second:
        await first.start_event(7001, NOW, 42, 42)
        second_start = await second.start_event(7001, NOW, 42, 42)
        await first.conversations.save(_at(3), NOW)
        assert await first.commit() is True
        await second.citizens.seen(second_start.citizen, "ana_second", NOW)
        await second.opinions.add(NewOpinion(citizen_id, service_id, 2, "Twice?", None, None,
                                             "en", "telegram", NOW))
        await second.conversations.save(_at(9), NOW)
        assert await second.commit() is False
    assert (await _state(sql_backend)).step == 3
    assert (await sql_backend.citizen(42))["username"] == "ana"
    assert await sql_backend.opinions() == []


@pytest.mark.parametrize("writes_more", [False, True], ids=["press", "opinion"])
async def test_an_event_whose_commit_fails_leaves_its_update_to_the_redelivery(
        sql_backend, writes_more):  # type: ignore[no-untyped-def]
    citizen_id, service_id = await _citizen_and_service(sql_backend)
    broken = StateRecord(42, 42, "opinion", "done", 5, {"unstorable": object()})
    with pytest.raises(Exception):  # noqa: B017 - the driver's own error type
        async with sql_backend.uow() as uow:
            assert (await uow.start_event(7002, NOW, 42, 42)).fresh
            if writes_more:
                await uow.opinions.add(NewOpinion(citizen_id, service_id, 4, "Good", None,
                                                  None, "en", "telegram", NOW))
            await uow.conversations.save(broken, NOW)
            await uow.commit()
    assert await sql_backend.opinions() == []
    async with sql_backend.uow() as uow:
        assert (await uow.start_event(7002, NOW, 42, 42)).fresh  # handled in full, again
        await uow.conversations.save(_at(4), NOW)
        assert await uow.commit() is True
    async with sql_backend.uow() as uow:
        assert not (await uow.start_event(7002, NOW, 42, 42)).fresh
    assert (await _state(sql_backend)).step == 4


async def test_after_a_press_committed_on_its_own_the_next_event_is_one_transaction_again(
        sql_backend):  # type: ignore[no-untyped-def]
    """The press's last statement commits on its own (PostgreSQL); the
    connection must not stay that way for the next unit of work, whose
    writes are kept only if it commits."""
    citizen_id, service_id = await _citizen_and_service(sql_backend)
    async with sql_backend.uow() as uow:
        await uow.start_event(7003, NOW, 42, 42)
        await uow.conversations.save(_at(1), NOW)
        assert await uow.commit() is True
    async with sql_backend.uow() as uow:
        await uow.start_event(7004, NOW, 42, 42)
        await uow.opinions.add(NewOpinion(citizen_id, service_id, 4, "Good", None, None,
                                          "en", "telegram", NOW))
        await uow.conversations.save(_at(2), NOW)
        # leaves without commit: a crash, as far as storage can tell
    assert await sql_backend.opinions() == []
    assert (await _state(sql_backend)).step == 1
    async with sql_backend.uow() as uow:
        assert (await uow.start_event(7004, NOW, 42, 42)).fresh


async def test_connections_lost_under_the_pool_cost_one_event_which_comes_again(sql_backend):  # type: ignore[no-untyped-def]
    """The server drops every connection (a restart, a cut network) while
    the pool holds two. The next event's start finds its connection gone:
    that is "unavailable" (the update is answered 503 and delivered again),
    not a bug, and the event after it gets a live connection, not the
    pool's other dead one."""
    _postgresql_only(sql_backend)

    async def press(update_id: int, step: int) -> None:
        async with sql_backend.uow() as uow:
            assert (await uow.start_event(update_id, NOW, 42, 42)).fresh
            await uow.conversations.save(_at(step), NOW)
            assert await uow.commit() is True

    both_started = asyncio.Barrier(2)

    async def hold_a_connection() -> None:
        async with sql_backend.uow() as uow:
            await uow.start_event(None, NOW, 42, 42)
            await both_started.wait()

    await asyncio.gather(hold_a_connection(), hold_a_connection())  # two pooled connections
    admin = create_engine(sql_backend.sessions.kw["bind"].url.render_as_string(hide_password=False))
    try:
        async with admin.connect() as connection:
            dropped = (await connection.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"))).scalar_one()
    finally:
        await admin.dispose()
    assert dropped >= 2
    with pytest.raises(Exception) as lost:
        await press(7007, 1)
    assert is_unavailable(lost.value)
    await press(7007, 2)  # Telegram's redelivery
    assert (await _state(sql_backend)).step == 2
