"""Give my opinion, through the engine, on every storage backend."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from conversations.vocabulary import Answer
from tests.harness import NOW, Person, make_engine

SERVICES = ["Phone line 012", "Registry offices", "E-government site"]


@pytest.fixture
async def ana(backend):  # type: ignore[no-untyped-def]
    await backend.add_lab("tu-atencion", "Tu Atención", SERVICES)
    person = Person(make_engine(backend))
    await person.consent()
    return person


async def test_a_complete_opinion_is_stored_once_with_a_reference(ana, backend):  # type: ignore[no-untyped-def]
    await ana.press("Give my opinion")
    assert "Which service" in ana.shown  # one lab open: the lab choice is skipped
    await ana.press("Registry offices")
    assert "How would you rate <b>Registry offices</b>?" in ana.shown
    await ana.press("4")
    await ana.text("The queue was <long> & slow")
    assert "&lt;long&gt; &amp; slow" in ana.shown
    assert "★★★★☆ (4 of 5)" in ana.shown
    assert await backend.count("opinions") == 0  # nothing before Send
    await ana.press("Send")
    [opinion] = await backend.opinions()
    assert opinion["rating"] == 4
    assert opinion["comment"] == "The queue was <long> & slow"
    assert opinion["channel"] == "telegram"
    assert f"OP-{opinion['id']:06d}" in ana.shown
    assert ana.labels() == ["Another service", "Main menu"]


async def test_typing_the_rating_works_and_wrong_numbers_are_explained(ana, backend):  # type: ignore[no-untyped-def]
    await ana.press("Give my opinion")
    await ana.press("Phone line 012")
    await ana.text("7")
    assert "Please tap a number from 1 to 5" in ana.shown
    await ana.text(" 2 ")
    assert "Why?" in ana.shown
    await ana.press("Skip")
    await ana.press("Send")
    assert [o["rating"] for o in await backend.opinions()] == [2]


async def test_voice_note_and_photo_keep_the_file_id(ana, backend):  # type: ignore[no-untyped-def]
    await ana.press("Give my opinion")
    await ana.press("Phone line 012")
    await ana.press("5")
    await ana.media("voice", "VOICE-42")
    assert "🎤 Voice note" in ana.shown
    await ana.press("Send")
    await ana.press("Another service")
    await ana.press("Registry offices")
    await ana.press("1")
    await ana.media("photo", "PHOTO-7", caption="look at this")
    await ana.press("Send")
    first, second = await backend.opinions()
    assert (first["media_kind"], first["media_file_id"], first["comment"]) == \
        ("voice", "VOICE-42", None)
    assert (second["media_kind"], second["media_file_id"], second["comment"]) == \
        ("photo", "PHOTO-7", "look at this")


async def test_too_long_and_unsupported_comments_keep_the_citizen_in_place(ana, backend):  # type: ignore[no-untyped-def]
    await ana.press("Give my opinion")
    await ana.press("Phone line 012")
    await ana.press("3")
    await ana.text("x" * 5000)
    assert "5,000 characters and the limit is 2,000" in ana.shown
    await ana.media("sticker")
    assert "I can take a text message, a voice note or a photo" in ana.shown
    await ana.media("location", file_id="")
    assert "Why?" in ana.shown
    await ana.text("y" * 2000)
    assert "Your opinion" in ana.shown
    await ana.press("Send")
    assert len((await backend.opinions())[0]["comment"]) == 2000


async def test_review_can_change_rating_and_comment(ana, backend):  # type: ignore[no-untyped-def]
    await ana.press("Give my opinion")
    await ana.press("Phone line 012")
    await ana.press("2")
    await ana.text("first")
    await ana.press("Change rating")
    await ana.press("5")
    assert "★★★★★ (5 of 5)" in ana.shown  # straight back to the summary
    await ana.press("Change comment")
    await ana.text("second thoughts")
    assert "second thoughts" in ana.shown
    await ana.press("Send")
    [opinion] = await backend.opinions()
    assert (opinion["rating"], opinion["comment"]) == (5, "second thoughts")


async def test_back_walks_the_steps_backwards(ana):  # type: ignore[no-untyped-def]
    await ana.press("Give my opinion")
    await ana.press("Phone line 012")
    await ana.press("4")
    await ana.text("ok")
    expected = ["Why?", "How would you rate", "Which service", "What would you like to do?"]
    for text in expected:
        await ana.press("Back")
        assert text in ana.shown


@pytest.mark.parametrize("steps", [0, 1, 2, 3])
async def test_cancel_at_any_step_saves_nothing(ana, backend, steps):  # type: ignore[no-untyped-def]
    await ana.press("Give my opinion")
    actions = [lambda: ana.press("Phone line 012"), lambda: ana.press("4"),
               lambda: ana.text("words")]
    for action in actions[:steps]:
        await action()
    await ana.press("Cancel")
    assert "Cancelled. Nothing was saved." in ana.shown
    assert await backend.count("opinions") == 0


async def test_cancel_command_works_anywhere(ana, backend):  # type: ignore[no-untyped-def]
    await ana.press("Give my opinion")
    await ana.press("Phone line 012")
    await ana.command("/cancel")
    assert "Cancelled. Nothing was saved." in ana.shown
    await ana.command("/cancel")
    assert "There is nothing to cancel." in ana.shown


async def test_double_tap_on_send_stores_one_opinion(ana, backend):  # type: ignore[no-untyped-def]
    await ana.press("Give my opinion")
    await ana.press("Phone line 012")
    await ana.press("4")
    await ana.press("Skip")
    send = ana.button("Send")
    await ana.press_data(send)
    outcome = await ana.press_data(send)
    assert "This button has expired." in [getattr(r, "text", None) for r in outcome.replies]
    assert await backend.count("opinions") == 1


async def test_a_redelivered_update_stores_nothing_twice(ana, backend):  # type: ignore[no-untyped-def]
    await ana.press("Give my opinion")
    await ana.press("Phone line 012")
    await ana.press("4")
    await ana.press("Skip")
    send = ana.button("Send")
    first = await ana.press_data(send, update_id=777_001)
    again = await ana.press_data(send, update_id=777_001)
    assert not first.duplicate and again.duplicate and again.replies == [Answer()]
    assert await backend.count("opinions") == 1


class _StartedTogether:
    """A unit of work whose event, once started, waits for the other worker's
    to have started too. On PostgreSQL a start only reads whether the update
    was handled (its mark is written at the commit), so both workers run the
    event and the commit must settle it. (SQLite takes its write lock at the
    start: there the second worker waits for the first, and finds its mark.)"""

    def __init__(self, inner, both_started: asyncio.Barrier) -> None:  # type: ignore[no-untyped-def]
        self._inner, self._both_started = inner, both_started

    async def __aenter__(self):  # type: ignore[no-untyped-def]
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._inner.__aexit__(*exc)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._inner, name)

    async def start_event(self, *args):  # type: ignore[no-untyped-def]
        start = await self._inner.start_event(*args)
        await self._both_started.wait()
        return start


async def _same_press_in_two_workers(ana, backend, label: str):  # type: ignore[no-untyped-def]
    """The same update handled by two workers at once (two engines, each with
    locks of its own, as two processes without Redis): one keeps it, the
    other stores nothing and sends nothing but the press's answer."""
    event = ana._event("button", data=ana.button(label), callback_id="cb",
                       message_id=ana.screen_message_id)
    workers = [make_engine(backend), make_engine(backend)]
    if backend.name == "postgresql":
        both_started = asyncio.Barrier(2)
        for worker in workers:
            worker.uow = lambda: _StartedTogether(backend.uow(), both_started)
    outcomes = await asyncio.gather(*(worker.handle(event) for worker in workers))
    [kept] = [o for o in outcomes if not o.duplicate]
    [dropped] = [o for o in outcomes if o.duplicate]
    assert dropped.replies == [Answer()]
    ana.see(kept)
    return kept


async def test_one_press_taken_by_two_workers_at_once_moves_the_journey_once(ana, backend):  # type: ignore[no-untyped-def]
    await ana.press("Give my opinion")
    await ana.press("Phone line 012")
    await _same_press_in_two_workers(ana, backend, "4")
    assert "Why?" in ana.shown
    await ana.press("Skip")
    await ana.press("Send")
    assert [o["rating"] for o in await backend.opinions()] == [4]


async def test_one_opinion_sent_by_two_workers_at_once_is_stored_once(ana, backend):  # type: ignore[no-untyped-def]
    await ana.press("Give my opinion")
    await ana.press("Phone line 012")
    await ana.press("4")
    await ana.press("Skip")
    await _same_press_in_two_workers(ana, backend, "Send")
    [opinion] = await backend.opinions()
    assert f"OP-{opinion['id']:06d}" in ana.shown


async def test_stale_and_forged_buttons_expire_and_show_where_you_are(ana, backend):  # type: ignore[no-untyped-def]
    await ana.press("Give my opinion")
    old_service_button = ana.button("Phone line 012")
    await ana.press("Phone line 012")
    for data in [old_service_button, "op:svc:999@1", "nonsense", "zz:top:1", "op:rate:9@99999",
                 "x" * 70, "op:rate:1@-1", "menu:go:op@"]:
        outcome = await ana.press_data(data)
        assert outcome.replies[0].text == "This button has expired.", data
        assert "How would you rate" in ana.shown
    await ana.press("3")  # the current buttons still work
    assert "Why?" in ana.shown
    assert await backend.count("opinions") == 0


async def test_services_are_paginated_beyond_eight(backend):  # type: ignore[no-untyped-def]
    await backend.add_lab("big", "Big lab", [f"Service {n:02d}" for n in range(1, 12)])
    ana = Person(make_engine(backend))
    await ana.consent()
    await ana.press("Give my opinion")
    assert "Service 08" in ana.labels() and "Service 09" not in str(ana.labels())
    assert "1/2" in ana.labels()
    await ana.press("Next")
    assert ana.labels()[:3] == ["Service 09", "Service 10", "Service 11"]
    await ana.press("Previous")
    assert "Service 01" in ana.labels()


async def test_several_open_labs_are_chosen_first_and_closed_ones_hidden(backend):  # type: ignore[no-untyped-def]
    await backend.add_lab("health", "Health centres", ["GP appointments"])
    await backend.add_lab("transport", "Buses", ["Night buses"])
    await backend.add_lab("closed", "Old lab", ["Gone"], closes=NOW - timedelta(days=1))
    ana = Person(make_engine(backend))
    await ana.consent()
    await ana.press("Give my opinion")
    assert "Which citizen laboratory" in ana.shown
    assert ana.labels()[:2] == ["Health centres", "Buses"] and "Old lab" not in ana.labels()
    await ana.press("Buses")
    await ana.press("Night buses")
    await ana.press("Back")
    await ana.press("Back")
    assert "Which citizen laboratory" in ana.shown


async def test_no_open_lab_is_said_plainly(backend):  # type: ignore[no-untyped-def]
    ana = Person(make_engine(backend))
    await ana.consent()
    await ana.press("Give my opinion")
    assert "No citizen laboratory is taking opinions right now" in ana.shown


async def test_a_lab_closing_mid_journey_is_handled(backend):  # type: ignore[no-untyped-def]
    await backend.add_lab("soon", "Closing soon", ["Desk"], closes=NOW + timedelta(minutes=5))
    clock = [NOW]
    ana = Person(make_engine(backend, clock=lambda: clock[0]))
    await ana.consent()
    await ana.press("Give my opinion")
    await ana.press("Desk")
    await ana.press("4")
    await ana.press("Skip")
    clock[0] = NOW + timedelta(minutes=10)
    await ana.press("Send")
    assert "Sorry, that is no longer available." in ana.shown
    assert await backend.count("opinions") == 0


async def test_deep_link_opens_the_lab_after_consent(backend):  # type: ignore[no-untyped-def]
    await backend.add_lab("health", "Health centres", ["GP appointments"])
    await backend.add_lab("tu-atencion", "Tu Atención", SERVICES)
    ana = Person(make_engine(backend))
    await ana.command("/start lab-tu-atencion")
    await ana.press("Continue")
    await ana.press("OK")
    assert "Tu Atención" in ana.shown and "Which service" in ana.shown
    await ana.command("/start lab-nope")
    assert "That laboratory is not taking opinions now." in ana.shown
    await ana.command("/start lab-health")
    assert "Health centres" in ana.shown


async def test_help_explains_the_current_step(ana):  # type: ignore[no-untyped-def]
    await ana.press("Give my opinion")
    await ana.press("Phone line 012")
    await ana.command("/help")
    assert "Tap a number from 1 (very bad) to 5 (very good)" in ana.shown
    assert "How would you rate" in ana.shown


async def test_language_can_change_mid_journey_without_losing_it(ana, backend):  # type: ignore[no-untyped-def]
    await ana.press("Give my opinion")
    await ana.press("Phone line 012")
    outcome = await ana.command("/language")
    picker = outcome.replies[0]
    spanish = next(b.data for row in picker.buttons for b in row if b.label == "Español")
    await ana.press_data(spanish)
    assert "¿Qué nota le das a <b>Phone line 012</b>?" in ana.shown
    await ana.press("4")
    assert (await backend.citizen(ana.id))["language"] == "es"


async def test_unknown_commands_and_edits_are_answered_politely(ana):  # type: ignore[no-untyped-def]
    await ana.press("Give my opinion")
    await ana.command("/frobnicate")
    assert "I don't know the command /frobnicate" in ana.shown
    assert "Which service" in ana.shown
    outcome = await ana.send(ana._event("edited", text="changed"))
    assert "I don't take changes to messages already sent" in outcome.replies[0].text


async def test_a_bug_in_a_handler_loses_nothing_and_is_said_kindly(ana, backend, monkeypatch):  # type: ignore[no-untyped-def]
    from conversations.flows import opinion

    await ana.press("Give my opinion")

    async def broken(self, data, ctx):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    monkeypatch.setattr(opinion.ChooseService, "on_button", broken)
    outcome = await ana.press("Phone line 012")
    assert "something went wrong on our side" in outcome.replies[-1].text
    monkeypatch.undo()
    await ana.command("/menu")
    assert "What would you like to do?" in ana.shown
