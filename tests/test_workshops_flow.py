"""The citizen's workshop journey, through the engine, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from conversations.vocabulary import Document, Photo
from storage import models as m
from storage.workshops import NewQuestion
from tests.harness import NOW, Person, make_engine
from tests.workshop_fixtures import add_workshop
from tests.workshop_people import Clock, outbox, receive, registrations

QUESTIONS = (
    NewQuestion("choice", {"es": "¿Cómo vienes?", "en": "How will you come?"},
                [{"es": "Andando", "en": "On foot"}, {"es": "En autobús", "en": "By bus"}]),
    NewQuestion("text", {"es": "¿Necesidades de accesibilidad?",
                         "en": "Any accessibility needs?"}, sensitive=True),
)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def engine(backend, clock):  # type: ignore[no-untyped-def]
    return make_engine(backend, clock=clock, bot_username="participa_bot")


async def person(backend, clock, id: int, name: str = "Ana") -> Person:  # type: ignore[no-untyped-def]
    someone = Person(engine(backend, clock), id=id, first_name=name, username=name.lower())
    await someone.consent()
    return someone


async def sign_up(someone: Person, *, answers: bool = False) -> None:
    await someone.command("/menu")
    await someone.press("Workshops")
    await someone.press("Appointments workshop")
    await someone.press("Sign up" if "Sign up" in str(someone.labels()) else "waiting list")
    if "I agree" in str(someone.labels()):
        await someone.press("I agree")
    if answers:
        await someone.press("By bus")
        await someone.text("I use a wheelchair")


async def test_sign_up_with_consent_questions_calendar_and_qr(sql_backend, clock):  # type: ignore[no-untyped-def]
    await add_workshop(sql_backend.sessions, NOW, capacity=30, questions=QUESTIONS)
    ana = await person(sql_backend, clock, 601)
    await ana.press("Workshops")
    assert "Appointments workshop" in ana.shown
    assert "30 of 30 seats left" in ana.shown
    assert "Calle Mayor 1, Valladolid" in ana.shown and "openstreetmap.org" in ana.shown
    # Europe/Madrid: 10:00 UTC on 29 November is 11:00 there.
    assert "Sunday, November 29, 2026, 11:00\u202fAM" in ana.shown
    await ana.press("Appointments workshop")
    await ana.press("Sign up")
    assert "Workshop registration" in ana.shown and "What we keep" in ana.shown
    await ana.press("I agree")
    assert "Question 1 of 2" in ana.shown and "How will you come?" in ana.shown
    await ana.text("walking")
    assert "Please choose one of the options" in ana.shown
    await ana.press("By bus")
    assert "Any accessibility needs?" in ana.shown and "kept apart" in ana.shown
    await ana.media("sticker")
    assert "written answer" in ana.shown
    await ana.text("x" * 400)
    assert "400 characters and the limit is 300" in ana.shown
    outcome = await ana.text("I use a <wheelchair>")
    assert "You're in!" in ana.shown
    [calendar] = [r for r in outcome.replies if isinstance(r, Document)]
    [photo] = [r for r in outcome.replies if isinstance(r, Photo)]
    assert calendar.name == "citas.ics"
    body = calendar.content.decode()
    assert "DTSTART:20261129T100000Z" in body and "DTEND:20261129T120000Z" in body
    assert "SUMMARY:Appointments workshop" in body and body.endswith("END:VCALENDAR\r\n")
    assert photo.content[:8] == b"\x89PNG\r\n\x1a\n"
    [registration] = await registrations(sql_backend)
    assert registration["status"] == "confirmed" and len(registration["checkin_token"]) >= 32
    async with sql_backend.sessions() as session:
        plain = (await session.execute(select(m.RegistrationAnswer.answer))).scalars().all()
        sensitive = (await session.execute(select(m.SensitiveAnswer.answer))).scalars().all()
        taken = await session.scalar(select(m.Workshop.taken))
    assert plain == ["En autobús"] and sensitive == ["I use a <wheelchair>"] and taken == 1
    consents = [c["purpose"] for c in await sql_backend.consents()]
    assert consents == ["privacy", "workshops"]
    reminders = await outbox(sql_backend, ana.id)
    assert [r["not_before"] for r in reminders] == [NOW + timedelta(days=3),
                                                    NOW + timedelta(days=5, hours=-2)]
    assert [r["not_after"] for r in reminders] == [NOW + timedelta(days=5, hours=-2),
                                                   NOW + timedelta(days=5)]
    assert "I can't come" in str(reminders[0]["buttons"])


async def test_signing_up_twice_changes_nothing_and_says_so(sql_backend, clock):  # type: ignore[no-untyped-def]
    await add_workshop(sql_backend.sessions, NOW, capacity=30)
    ana = await person(sql_backend, clock, 602)
    await sign_up(ana)
    assert "You're in!" in ana.shown
    await ana.press("Main menu")
    await ana.press("Workshops")
    assert "29 of 30 seats left" in ana.shown
    await ana.press("Appointments workshop")
    assert "You are signed up." in ana.shown and "Sign up" not in str(ana.labels())
    assert len(await registrations(sql_backend)) == 1


async def test_a_full_workshop_puts_people_on_the_waiting_list_in_order(sql_backend, clock):  # type: ignore[no-untyped-def]
    await add_workshop(sql_backend.sessions, NOW, capacity=1)
    ana = await person(sql_backend, clock, 603, "Ana")
    bea = await person(sql_backend, clock, 604, "Bea")
    cai = await person(sql_backend, clock, 605, "Cai")
    await sign_up(ana)
    await bea.press("Workshops")
    assert "Full: you can join the waiting list." in bea.shown
    await sign_up(bea)
    assert "You are number 1 on the waiting list" in bea.shown
    await sign_up(cai)
    assert "You are number 2 on the waiting list" in cai.shown
    await cai.command("/myworkshops")
    assert "You are number 2 on the waiting list" in cai.shown
    # Ana gives up her seat: it is offered to Bea (held for her), not to a newcomer.
    await ana.command("/myworkshops")
    await ana.press("Appointments workshop")
    await ana.press("Cancel my seat")
    outcome = await ana.press("Yes, cancel it")
    assert "your place is cancelled" in ana.shown
    assert outcome.queued == 1
    assert await outbox(sql_backend, ana.id) == []  # her reminders are cancelled
    [offer] = await outbox(sql_backend, bea.id)
    assert "A seat is free for you" in offer["body"]
    # min(24 h, half of the 5 days left)
    assert "11/25/26" in offer["body"] and offer["not_after"] == NOW + timedelta(hours=24)
    dan = await person(sql_backend, clock, 606, "Dan")
    await sign_up(dan)
    assert "You are number 2 on the waiting list" in dan.shown  # Cai is first now
    receive(bea, offer)
    outcome = await bea.press("Take the seat")
    assert any(isinstance(r, Document) for r in outcome.replies)
    assert any(isinstance(r, Photo) for r in outcome.replies)
    assert "You're in!" in bea.last_texts()[-1]
    statuses = {r["citizen_id"]: r["status"] for r in await registrations(sql_backend)}
    assert sorted(statuses.values()) == ["cancelled", "confirmed", "waitlisted", "waitlisted"]
    receive(bea, offer)
    await bea.press("Take the seat")  # twice: nothing more
    assert "no longer valid" in bea.last_texts()[-1]


async def test_saying_no_thanks_offers_the_seat_to_the_next(sql_backend, clock):  # type: ignore[no-untyped-def]
    await add_workshop(sql_backend.sessions, NOW, capacity=1)
    ana, bea, cai = [await person(sql_backend, clock, 610 + n, name)
                     for n, name in enumerate(["Ana", "Bea", "Cai"])]
    for someone in (ana, bea, cai):
        await sign_up(someone)
    await ana.command("/myworkshops")
    await ana.press("Appointments workshop")
    await ana.press("Cancel my seat")
    await ana.press("Yes, cancel it")
    [offer] = await outbox(sql_backend, bea.id)
    receive(bea, offer)
    await bea.press("No, thanks")
    assert "the seat goes to the next person" in bea.last_texts()[-1]
    [offer] = await outbox(sql_backend, cai.id)
    assert "Take the seat" in str(offer["buttons"])


async def test_someone_elses_offer_button_does_nothing(sql_backend, clock):  # type: ignore[no-untyped-def]
    await add_workshop(sql_backend.sessions, NOW, capacity=1)
    ana = await person(sql_backend, clock, 620, "Ana")
    bea = await person(sql_backend, clock, 621, "Bea")
    await sign_up(ana)
    await sign_up(bea)
    await ana.command("/myworkshops")
    await ana.press("Appointments workshop")
    await ana.press("Cancel my seat")
    await ana.press("Yes, cancel it")
    [offer] = await outbox(sql_backend, bea.id)
    receive(ana, offer)
    await ana.press("Take the seat")
    assert "no longer available" in ana.last_texts()[-1]
    assert [r["status"] for r in await registrations(sql_backend)] == ["cancelled", "offered"]


async def test_the_qr_code_holds_the_check_in_deep_link(sql_backend, clock, monkeypatch):  # type: ignore[no-untyped-def]
    from conversations.flows import workshops
    from conversations.workshop_files import qr_png

    encoded: list[str] = []

    def capture(text: str) -> bytes:
        encoded.append(text)
        return qr_png(text)

    monkeypatch.setattr(workshops, "qr_png", capture)
    await add_workshop(sql_backend.sessions, NOW)
    ana = await person(sql_backend, clock, 630)
    await sign_up(ana)
    [registration] = await registrations(sql_backend)
    assert encoded == [f"https://t.me/participa_bot?start=checkin-{registration['checkin_token']}"]
    # "Calendar and QR code again" sends the same code.
    await ana.command("/myworkshops")
    await ana.press("Appointments workshop")
    outcome = await ana.press("Calendar and QR code again")
    assert len(encoded) == 2 and encoded[0] == encoded[1]
    assert [type(r).__name__ for r in outcome.replies] == ["Answer", "Document", "Photo", "Edit"]


async def test_an_online_workshop_shows_its_link(sql_backend, clock):  # type: ignore[no-untyped-def]
    await add_workshop(sql_backend.sessions, NOW, online=True)
    ana = await person(sql_backend, clock, 631)
    await ana.press("Workshops")
    assert "💻 Online: https://meet.example.org/citas" in ana.shown
