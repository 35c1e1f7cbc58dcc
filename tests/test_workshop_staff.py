"""Staff: check-in (QR deep link and /checkin), feedback, the attendee file,
/manageworkshops (date, place, cancel) and the /newworkshop wizard."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import select

from conversations.vocabulary import Document
from storage import models as m
from storage.workshops import NewQuestion
from tests.harness import NOW, Person, make_engine
from tests.test_workshops_flow import QUESTIONS, person, sign_up
from tests.workshop_fixtures import add_workshop
from tests.workshop_people import Clock, outbox, receive, registrations

STAFF_ID = 9_001


async def staff(backend, clock) -> Person:  # type: ignore[no-untyped-def]
    someone = Person(make_engine(backend, clock=clock, bot_username="participa_bot",
                                 admin_ids=frozenset({STAFF_ID})),
                     id=STAFF_ID, first_name="Sara", username="sara_staff")
    await someone.consent()
    return someone


async def token_of(backend, index: int = 0) -> str:  # type: ignore[no-untyped-def]
    return (await registrations(backend))[index]["checkin_token"]


async def test_staff_scan_checks_in_once_and_feedback_follows(sql_backend):  # type: ignore[no-untyped-def]
    clock = Clock()
    await add_workshop(sql_backend.sessions, NOW)
    ana = await person(sql_backend, clock, 801)
    await sign_up(ana)
    sara = await staff(sql_backend, clock)
    token = await token_of(sql_backend)
    clock.now = NOW + timedelta(days=5, minutes=-10)
    await sara.command(f"/start checkin-{token}")
    assert "Ana @ana is checked in at Appointments workshop" in sara.shown
    [row] = await registrations(sql_backend)
    assert row["status"] == "attended" and row["attended_at"] == clock.now
    await sara.command(f"/start checkin-{token}")
    assert "was already checked in at 10:50" in sara.shown
    await sara.command("/start checkin-forged0123456789")
    assert "This check-in code is not valid." in sara.shown
    # The feedback question waits for the end of the workshop, once.
    [feedback] = [r for r in await outbox(sql_backend, ana.id) if "How was it?" in r["body"]]
    assert feedback["not_before"] == NOW + timedelta(days=5, hours=2)
    clock.now = feedback["not_before"]
    receive(ana, feedback)
    await ana.press("4")
    assert "Would you like to tell us anything else" in ana.shown
    await ana.text("More <coffee> please")
    assert "Thank you for your feedback!" in ana.shown
    receive(ana, feedback)
    await ana.press("1")  # a second score is not taken
    assert ana.history[-1].replies[0].text == "This button has expired."
    [row] = await registrations(sql_backend)
    assert (row["feedback_score"], row["feedback_comment"]) == (4, "More <coffee> please")


async def test_a_citizen_scanning_a_code_is_told_it_is_for_the_door(sql_backend):  # type: ignore[no-untyped-def]
    clock = Clock()
    await add_workshop(sql_backend.sessions, NOW)
    ana = await person(sql_backend, clock, 802)
    await sign_up(ana)
    bea = await person(sql_backend, clock, 803, "Bea")
    await bea.command(f"/start checkin-{await token_of(sql_backend)}")
    assert "This code is for the staff at the workshop's door" in bea.shown
    await ana.command(f"/start checkin-{await token_of(sql_backend)}")
    assert "This code is for the staff" in ana.shown
    assert (await registrations(sql_backend))[0]["status"] == "confirmed"
    await bea.command("/checkin citas")
    assert "I don't know the command /checkin" in bea.last_texts()[-1]


async def test_checkin_list_with_buttons_and_search(sql_backend):  # type: ignore[no-untyped-def]
    clock = Clock()
    await add_workshop(sql_backend.sessions, NOW)
    for n, name in enumerate(["Ana", "Bea", "Carmen"]):
        await sign_up(await person(sql_backend, clock, 810 + n, name))
    sara = await staff(sql_backend, clock)
    await sara.command("/checkin")
    assert "Please write the workshop's code" in sara.last_texts()[-1] and "citas" in \
        sara.last_texts()[-1]
    await sara.command("/checkin nope")
    assert "There is no workshop with the code nope" in sara.last_texts()[-1]
    await sara.command("/checkin citas")
    assert "0 of 3 have arrived" in sara.shown
    assert sara.labels()[:3] == ["⬜ Ana @ana", "⬜ Bea @bea", "⬜ Carmen @carmen"]
    await sara.text("car")
    assert sara.labels() == ["⬜ Carmen @carmen", "Show everyone", "Done"]
    await sara.press("Carmen")
    assert "Carmen @carmen is checked in." in sara.shown and "1 of 3 has arrived" in sara.shown
    assert "✅ Carmen @carmen" in sara.labels()
    await sara.press("Carmen")
    assert "was already checked in" in sara.shown
    await sara.text("x" * 100)
    assert "Please write part of a name" in sara.shown


async def test_attendee_file_leaves_sensitive_answers_out_unless_asked(sql_backend):  # type: ignore[no-untyped-def]
    clock = Clock()
    await add_workshop(sql_backend.sessions, NOW, questions=QUESTIONS)
    ana = await person(sql_backend, clock, 820)
    await sign_up(ana, answers=True)
    sara = await staff(sql_backend, clock)
    outcome = await sara.command("/attendees citas")
    [document] = [r for r in outcome.replies if isinstance(r, Document)]
    rows = list(csv.reader(io.StringIO(document.content.decode("utf-8-sig"))))
    assert rows[0][-1] == "How will you come?" and rows[1][:3] == ["Ana", "ana", "confirmed"]
    assert "wheelchair" not in document.content.decode()
    assert "Sensitive answers are left out" in document.caption
    outcome = await sara.command("/attendees citas sensitive")
    [document] = [r for r in outcome.replies if isinstance(r, Document)]
    assert "I use a wheelchair" in document.content.decode()


async def test_changing_the_date_tells_people_and_moves_the_reminders(sql_backend):  # type: ignore[no-untyped-def]
    clock = Clock()
    await add_workshop(sql_backend.sessions, NOW, capacity=1)
    ana = await person(sql_backend, clock, 830)
    bea = await person(sql_backend, clock, 831, "Bea")
    await sign_up(ana)
    await sign_up(bea)
    sara = await staff(sql_backend, clock)
    await sara.command("/manageworkshops")
    assert "signed up: 1 of 1 · waiting: 1 · attended: 0" in sara.shown
    await sara.press("Appointments workshop")
    await sara.press("Change date")
    await sara.text("tomorrow")
    assert "I could not read that date" in sara.shown
    await sara.text("2020-01-01 10:00")
    assert "already passed" in sara.shown
    await sara.text("2026-12-10 18:30")
    assert "Date changed. 2 people were told." in sara.shown
    [told] = [r for r in await outbox(sql_backend, bea.id)]
    assert "The date of Appointments workshop has changed" in told["body"]
    assert "December 10, 2026" in told["body"]
    pending = await outbox(sql_backend, ana.id)
    reminders = [r for r in pending if "Reminder" in r["body"]]
    new_start = NOW.replace(month=12, day=10, hour=17, minute=30)
    assert [r["not_before"] for r in reminders] == [new_start - timedelta(hours=48),
                                                    new_start - timedelta(hours=2)]
    assert len(await outbox(sql_backend, ana.id, status="cancelled")) == 2


async def test_changing_the_place_and_cancelling_tell_everyone(sql_backend):  # type: ignore[no-untyped-def]
    clock = Clock()
    await add_workshop(sql_backend.sessions, NOW, capacity=1)
    ana = await person(sql_backend, clock, 840)
    bea = await person(sql_backend, clock, 841, "Bea")
    await sign_up(ana)
    await sign_up(bea)
    sara = await staff(sql_backend, clock)
    await sara.command("/manageworkshops")
    await sara.press("Appointments workshop")
    await sara.press("Change place")
    await sara.text("https://meet.example.org/new")
    assert "Place changed. 2 people were told." in sara.shown
    assert "Online: https://meet.example.org/new" in (await outbox(sql_backend, bea.id))[0]["body"]
    # Ana's reminders now say the new place; the old ones are cancelled.
    reminders = [r for r in await outbox(sql_backend, ana.id) if "Reminder" in r["body"]]
    assert len(reminders) == 2
    assert all("meet.example.org/new" in r["body"] for r in reminders)
    assert len(await outbox(sql_backend, ana.id, status="cancelled")) == 2
    await sara.press("Cancel the workshop")
    assert "2 people signed up or waiting will be told" in sara.shown
    await sara.press("Yes, cancel the workshop")
    assert "The workshop is cancelled. 2 people were told." in sara.shown
    for someone in (ana, bea):
        assert any("is cancelled" in r["body"] for r in await outbox(sql_backend, someone.id))
    assert [r for r in await outbox(sql_backend, ana.id) if "Reminder" in r["body"]] == []
    assert {r["status"] for r in await registrations(sql_backend)} == {"cancelled"}
    await ana.command("/menu")
    await ana.press("Workshops")
    assert "There are no workshops coming up right now" in ana.last_texts()[-1]


async def test_new_workshop_wizard(sql_backend):  # type: ignore[no-untyped-def]
    clock = Clock()
    await add_workshop(sql_backend.sessions, NOW)  # a lab open for workshops
    sara = await staff(sql_backend, clock)
    await sara.command("/newworkshop")
    await sara.press("Your Service")
    await sara.text("x" * 300)
    assert "300 characters and the limit is 200" in sara.shown
    await sara.text("Co-design <the> forms")
    await sara.press("Skip")
    assert "YYYY-MM-DD HH:MM" in sara.shown
    await sara.text("2026-13-45 99:00")
    assert "I could not read that date" in sara.shown
    await sara.press("12/1/26")  # the "in a week" preset, 18:00 Madrid
    await sara.text("5")
    assert "between 15 and 720" in sara.shown
    await sara.press("90 minutes")
    await sara.text("Plaza Mayor 2, León")
    await sara.text("lots")
    assert "between 1 and 10,000" in sara.shown
    await sara.text("12")
    await sara.press("Add a question")
    await sara.press("Choose among options")
    await sara.text("Which day suits you?")
    await sara.text("only one")
    assert "from 2 to 8 different options" in sara.shown
    await sara.text("Monday\nTuesday")
    await sara.press("No")
    await sara.press("Add a question")
    await sara.press("Short text")
    await sara.text("Accessibility needs?")
    await sara.press("Yes, sensitive")
    assert "1. Which day suits you? (choice): Monday, Tuesday" in sara.shown
    assert "2. Accessibility needs? (short text) 🔒" in sara.shown
    await sara.press("No more questions")
    assert "Co-design &lt;the&gt; forms" in sara.shown and "90 minutes" in sara.shown
    await sara.press("Create")
    assert "The workshop is created with the code <code>co-design-the-forms-20261201</code>" \
        in sara.shown
    async with sql_backend.sessions() as session:
        workshop = (await session.execute(select(m.Workshop).where(
            m.Workshop.slug == "co-design-the-forms-20261201"))).scalar_one()
        questions = (await session.execute(select(m.WorkshopQuestion).where(
            m.WorkshopQuestion.workshop_id == workshop.id)
            .order_by(m.WorkshopQuestion.position))).scalars().all()
    assert workshop.starts_at == NOW.replace(day=1, month=12, hour=17)
    assert workshop.ends_at - workshop.starts_at == timedelta(minutes=90)
    assert (workshop.capacity, workshop.place, workshop.title) == (
        12, "Plaza Mayor 2, León", {"en": "Co-design <the> forms"})
    assert "openstreetmap.org" in workshop.map_url
    assert [(q.kind, q.sensitive, q.options) for q in questions] == [
        ("choice", False, [{"en": "Monday"}, {"en": "Tuesday"}]), ("text", True, None)]


async def test_the_wizard_can_be_cancelled_and_stores_nothing(sql_backend):  # type: ignore[no-untyped-def]
    await add_workshop(sql_backend.sessions, NOW)
    sara = await staff(sql_backend, Clock())
    await sara.command("/newworkshop")
    await sara.press("Your Service")
    await sara.text("Something")
    await sara.press("Cancel")
    assert "Cancelled. Nothing was saved." in sara.shown
    async with sql_backend.sessions() as session:
        assert len((await session.execute(select(m.Workshop))).scalars().all()) == 1


async def test_sensitive_question_marked_in_sign_up(sql_backend):  # type: ignore[no-untyped-def]
    await add_workshop(sql_backend.sessions, NOW, questions=(
        NewQuestion("text", {"en": "Health needs?"}, sensitive=True),))
    ana = await person(sql_backend, Clock(), 850)
    await ana.press("Workshops")
    await ana.press("Appointments workshop")
    await ana.press("Sign up")
    await ana.press("I agree")
    assert "🔒 This answer is kept apart" in ana.shown
    await ana.press("Skip")
    assert "You're in!" in ana.shown
