"""/mydata and /deleteme with workshops: sign-ups and answers handed over; erasure
frees the seat for the waiting list and keeps attendance only in the totals."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import func, select

from conversations.vocabulary import Document
from storage import models as m
from tests.harness import NOW
from tests.test_workshop_jobs import jobs
from tests.test_workshop_staff import staff, token_of
from tests.test_workshops_flow import QUESTIONS, person, sign_up
from tests.workshop_fixtures import add_workshop
from tests.workshop_people import Clock, outbox, registrations


async def test_mydata_has_sign_ups_and_answers(sql_backend):  # type: ignore[no-untyped-def]
    await add_workshop(sql_backend.sessions, NOW, questions=QUESTIONS)
    ana = await person(sql_backend, Clock(), 901)
    await sign_up(ana, answers=True)
    outcome = await ana.command("/mydata")
    [document] = [r for r in outcome.replies if isinstance(r, Document)]
    data = json.loads(document.content)["data"]
    assert data["registrations"][0]["status"] == "confirmed"
    assert [a["answer"] for a in data["registration_answers"]] == ["En autobús"]
    assert [a["answer"] for a in data["sensitive_answers"]] == ["I use a wheelchair"]
    assert "Workshop sign-ups: 1" in outcome.replies[-1].text
    assert "Sensitive answers to workshop questions: 1" in outcome.replies[-1].text


async def test_deleteme_frees_the_seat_for_the_waiting_list(sql_backend):  # type: ignore[no-untyped-def]
    clock = Clock()
    await add_workshop(sql_backend.sessions, NOW, capacity=1, questions=QUESTIONS)
    ana = await person(sql_backend, clock, 910)
    bea = await person(sql_backend, clock, 911, "Bea")
    await sign_up(ana, answers=True)
    await sign_up(bea, answers=True)
    await ana.command("/deleteme")
    await ana.press("Delete everything")
    assert "Workshop sign-ups: 1" in ana.last_texts()[-1]
    assert [r["status"] for r in await registrations(sql_backend)] == ["waitlisted"]
    async with sql_backend.sessions() as session:
        assert await session.scalar(select(m.Workshop.taken)) == 0
        for model in (m.RegistrationAnswer, m.SensitiveAnswer):  # only Bea's are left
            assert await session.scalar(select(func.count()).select_from(model)) == 1
    assert await outbox(sql_backend, ana.id) == []  # reminders cancelled
    assert (await jobs(sql_backend, clock.now)).offers == 1
    [offer] = await outbox(sql_backend, bea.id)
    assert "A seat is free for you" in offer["body"]


async def test_an_erased_attendee_stays_in_the_totals_without_a_name(sql_backend):  # type: ignore[no-untyped-def]
    clock = Clock()
    await add_workshop(sql_backend.sessions, NOW)
    ana = await person(sql_backend, clock, 920)
    await sign_up(ana)
    sara = await staff(sql_backend, clock)
    await sara.command(f"/start checkin-{await token_of(sql_backend)}")
    async with sql_backend.sessions() as session:
        registration = (await session.execute(select(m.Registration))).scalar_one()
        registration.feedback_score, registration.feedback_comment = 5, "Loved it"
        await session.commit()
    clock.now = NOW + timedelta(days=6)
    await ana.command("/deleteme")
    await ana.press("Delete everything")
    [row] = await registrations(sql_backend)
    assert (row["citizen_id"], row["status"], row["feedback_score"], row["feedback_comment"]) \
        == (None, "attended", 5, None)


async def test_withdrawing_the_workshop_consent_gives_up_the_places(sql_backend):  # type: ignore[no-untyped-def]
    clock = Clock()
    await add_workshop(sql_backend.sessions, NOW, capacity=1)
    ana = await person(sql_backend, clock, 930)
    bea = await person(sql_backend, clock, 931, "Bea")
    await sign_up(ana)
    await sign_up(bea)
    await ana.command("/privacy")
    ana.screen = ana.history[-1].replies[-1]
    await ana.press("Withdraw: Workshop registration")
    await ana.press("Yes, withdraw")
    assert "your places in upcoming workshops are cancelled" in ana.last_texts()[-1]
    assert [r["status"] for r in await registrations(sql_backend)] == ["cancelled", "offered"]
    assert await outbox(sql_backend, ana.id) == []
    [offer] = await outbox(sql_backend, bea.id)
    assert "A seat is free for you" in offer["body"]
    # Signing up again asks for the consent again (and Bea holds the seat now).
    await ana.command("/menu")
    await ana.press("Workshops")
    await ana.press("Appointments workshop")
    await ana.press("waiting list")
    assert "Workshop registration" in ana.shown
    await ana.press("I agree")
    assert "You are number 1 on the waiting list" in ana.shown
    given = [(c["purpose"], c["withdrawn_at"] is None) for c in await sql_backend.consents()
             if c["citizen_id"] == (await sql_backend.citizen(ana.id))["id"]]
    assert given == [("privacy", True), ("workshops", False), ("workshops", True)]
