"""Time passes (injected): offers expire, reminders go out or are dropped after
downtime, sensitive answers are erased; each job is safe to run twice at once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from conversations.settings import FlowSettings
from conversations.workshop_jobs import erase_sensitive_answers, run_workshop_jobs
from storage import models as m
from storage.outbox import OutboxStore
from storage.sql import SqlUnitOfWork
from storage.workshops import NewQuestion
from tests.harness import NOW, Person
from tests.test_workshops_flow import engine, person, sign_up
from tests.workshop_fixtures import add_workshop
from tests.workshop_people import Clock, outbox, receive, registrations


def jobs(backend, now):  # type: ignore[no-untyped-def]
    return run_workshop_jobs(lambda: SqlUnitOfWork(backend.sessions), backend.sessions,
                             FlowSettings(), now)


async def full_workshop_with_queue(backend, clock) -> tuple[Person, Person, Person]:  # type: ignore[no-untyped-def]
    await add_workshop(backend.sessions, NOW, capacity=1)
    people = [await person(backend, clock, 700 + n, name)
              for n, name in enumerate(["Ana", "Bea", "Cai"])]
    for someone in people:
        await sign_up(someone)
    return people[0], people[1], people[2]


async def give_up(someone: Person) -> None:
    await someone.command("/myworkshops")
    await someone.press("Appointments workshop")
    await someone.press("Cancel my seat")
    await someone.press("Yes, cancel it")


async def test_an_unanswered_offer_expires_and_goes_to_the_next(sql_backend):  # type: ignore[no-untyped-def]
    clock = Clock()
    ana, bea, cai = await full_workshop_with_queue(sql_backend, clock)
    await give_up(ana)
    [offer] = await outbox(sql_backend, bea.id)
    assert (await jobs(sql_backend, NOW + timedelta(hours=23))).expired_offers == 0
    report = await jobs(sql_backend, NOW + timedelta(hours=24))
    assert (report.expired_offers, report.offers) == (1, 1)
    expired_note, = [r for r in await outbox(sql_backend, bea.id) if r["id"] != offer["id"]]
    assert "The time to take the seat you were offered is over" in expired_note["body"]
    [cai_offer] = await outbox(sql_backend, cai.id)
    assert "Take the seat" in str(cai_offer["buttons"])
    # Bea's old button no longer works; Cai's does.
    clock.now = NOW + timedelta(hours=25)
    receive(bea, offer)
    await bea.press("Take the seat")
    assert "no longer valid" in bea.last_texts()[-1]
    receive(cai, cai_offer)
    await cai.press("Take the seat")
    assert "You're in!" in cai.last_texts()[-1]
    async with sql_backend.sessions() as session:
        assert await session.scalar(select(m.Workshop.taken)) == 1


async def test_expiry_run_by_two_processes_at_once_offers_once(sql_backend):  # type: ignore[no-untyped-def]
    clock = Clock()
    ana, _bea, cai = await full_workshop_with_queue(sql_backend, clock)
    await give_up(ana)
    later = NOW + timedelta(hours=24)
    reports = await asyncio.gather(jobs(sql_backend, later), jobs(sql_backend, later))
    assert sum(r.expired_offers for r in reports) == 1
    assert len(await outbox(sql_backend, cai.id)) == 1
    statuses = sorted(r["status"] for r in await registrations(sql_backend))
    assert statuses == ["cancelled", "cancelled", "offered"]


async def test_no_offers_in_the_last_two_hours(sql_backend):  # type: ignore[no-untyped-def]
    clock = Clock()
    ana, bea, _cai = await full_workshop_with_queue(sql_backend, clock)
    clock.now = NOW + timedelta(days=5, hours=-1)  # one hour before the start
    await give_up(ana)
    assert await outbox(sql_backend, bea.id) == []
    assert (await jobs(sql_backend, clock.now)).offers == 0
    # The free seat goes to whoever asks now, even with people waiting.
    dan = await person(sql_backend, clock, 709, "Dan")
    await sign_up(dan)
    assert "You're in!" in dan.shown


async def test_an_offer_lasts_half_the_time_left_when_that_is_shorter(sql_backend):  # type: ignore[no-untyped-def]
    clock = Clock()
    ana, bea, _cai = await full_workshop_with_queue(sql_backend, clock)
    clock.now = NOW + timedelta(days=5, hours=-10)
    await give_up(ana)
    [offer] = await outbox(sql_backend, bea.id)
    assert offer["not_after"] == clock.now + timedelta(hours=5)


async def test_reminders_after_a_restart_go_only_before_the_start(sql_backend):  # type: ignore[no-untyped-def]
    clock = Clock()
    await add_workshop(sql_backend.sessions, NOW, capacity=10)
    ana = await person(sql_backend, clock, 720)
    await sign_up(ana)
    store = OutboxStore(sql_backend.sessions)
    # Down over the 48 h moment, back 30 hours before: the 48 h reminder goes late.
    [claimed] = await store.claim("new-process", NOW + timedelta(days=3, hours=18), 10)
    assert "48 hours" in claimed.body
    await store.sent(claimed.id, 1, NOW + timedelta(days=3, hours=18))
    # Down again over the 2 h moment, back 1 hour before the start: the 2 h one goes.
    [claimed] = await store.claim("new-process", NOW + timedelta(days=5, hours=-1), 10)
    assert "2 hours" in claimed.body
    # Had it come back after the start, neither would be sent.
    bea = await person(sql_backend, clock, 721, "Bea")
    await sign_up(bea)
    late = await store.claim("late-process", NOW + timedelta(days=5, minutes=1), 10)
    assert late == []
    dropped = await outbox(sql_backend, bea.id, status="cancelled")
    assert len(dropped) == 2 and all("expired" in r["last_error"] for r in dropped)


async def test_after_a_long_downtime_only_the_latest_reminder_goes(sql_backend):  # type: ignore[no-untyped-def]
    await add_workshop(sql_backend.sessions, NOW, capacity=10)
    ana = await person(sql_backend, Clock(), 722)
    await sign_up(ana)
    # Down from before the 48 h moment until 1 hour before the start.
    [claimed] = await OutboxStore(sql_backend.sessions).claim(
        "new-process", NOW + timedelta(days=5, hours=-1), 10)
    assert "2 hours" in claimed.body


async def test_no_48_hour_reminder_for_a_late_sign_up(sql_backend):  # type: ignore[no-untyped-def]
    clock = Clock(NOW + timedelta(days=4))  # the workshop is in 24 hours
    await add_workshop(sql_backend.sessions, NOW, capacity=10)
    ana = await person(sql_backend, clock, 730)
    await sign_up(ana)
    [reminder] = await outbox(sql_backend, ana.id)
    assert "2 hours" in reminder["body"]


async def test_i_cant_come_frees_the_seat_and_cancels_the_other_reminder(sql_backend):  # type: ignore[no-untyped-def]
    clock = Clock()
    ana, bea, _cai = await full_workshop_with_queue(sql_backend, clock)
    first, second = await outbox(sql_backend, ana.id)
    assert first["not_after"] == second["not_before"]
    clock.now = first["not_before"]
    receive(ana, first)
    await ana.press("I'll come")
    assert ana.history[-1].replies[0].text == "Thank you! See you there."
    receive(ana, first)
    await ana.press("I can't come")
    assert "Your seat is cancelled" in ana.last_texts()[-1]
    assert await outbox(sql_backend, ana.id) == []  # the 2 h one is cancelled
    [offer] = await outbox(sql_backend, bea.id)
    assert "A seat is free for you" in offer["body"]


async def test_sensitive_answers_are_erased_after_the_workshop(sql_backend):  # type: ignore[no-untyped-def]
    clock = Clock()
    await add_workshop(sql_backend.sessions, NOW, questions=(
        NewQuestion("text", {"en": "Accessibility needs?"}, sensitive=True),))
    ana = await person(sql_backend, clock, 740)
    await ana.press("Workshops")
    await ana.press("Appointments workshop")
    await ana.press("Sign up")
    await ana.press("I agree")
    await ana.text("Hearing loop")

    async def count() -> int:
        async with sql_backend.sessions() as session:
            return await session.scalar(select(func.count()).select_from(m.SensitiveAnswer))

    assert await erase_sensitive_answers(sql_backend.sessions, NOW + timedelta(days=5)) == 0
    assert await count() == 1
    assert await erase_sensitive_answers(sql_backend.sessions,
                                         NOW + timedelta(days=5, hours=2)) == 1
    assert await count() == 0


async def test_a_restarted_engine_keeps_the_queue(sql_backend):  # type: ignore[no-untyped-def]
    clock = Clock()
    await add_workshop(sql_backend.sessions, NOW, capacity=1)
    ana = await person(sql_backend, clock, 750)
    bea = await person(sql_backend, clock, 751, "Bea")
    await sign_up(ana)
    await sign_up(bea)
    # A new process (a new engine on the same database) picks up where it was.
    bea.engine = engine(sql_backend, clock)
    await bea.command("/myworkshops")
    assert "You are number 1 on the waiting list" in bea.shown


async def test_an_offer_can_be_taken_from_my_workshops(sql_backend):  # type: ignore[no-untyped-def]
    clock = Clock()
    ana, bea, _cai = await full_workshop_with_queue(sql_backend, clock)
    await give_up(ana)
    await bea.command("/myworkshops")
    assert "A seat is being kept for you" in bea.shown
    await bea.press("Appointments workshop")
    outcome = await bea.press("Take the seat")
    assert "You're in!" in bea.shown and "You are signed up." in bea.shown
    assert {type(r).__name__ for r in outcome.replies} >= {"Document", "Photo"}
    assert "Calendar and QR code again" in str(bea.labels())


async def test_close_to_the_start_someone_waiting_may_take_a_free_seat(sql_backend):  # type: ignore[no-untyped-def]
    clock = Clock()
    ana, bea, cai = await full_workshop_with_queue(sql_backend, clock)
    clock.now = NOW + timedelta(days=5, hours=-1)
    await give_up(ana)
    await cai.command("/myworkshops")
    await cai.press("Appointments workshop")
    assert "Take the seat" in str(cai.labels())
    await bea.command("/menu")
    await bea.press("Workshops")
    await bea.press("Appointments workshop")
    await bea.press("Take the seat")
    assert "You're in!" in bea.shown
    await cai.press("Take the seat")  # the seat has gone meanwhile
    assert "someone else has just taken that seat" in cai.shown
    statuses = sorted(r["status"] for r in await registrations(sql_backend))
    assert statuses == ["cancelled", "confirmed", "waitlisted"]
