"""Proposals through the engine, on SQLite and PostgreSQL: browse, paginate, rate,
change a rating, submit, limits, status-change notifications, notifications
menu, my participation, deep links and forged buttons."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from conversations.callback import CallbackData
from conversations.flows.proposal_news import change_status
from storage import models as m
from storage.sql import SqlUnitOfWork
from tests.harness import NOW, Person, make_engine
from tests.proposals_fixtures import add_lab, add_proposals, rows, service_id


async def citizen(backend, person_id: int = 501, **settings) -> Person:  # type: ignore[no-untyped-def]
    person = Person(make_engine(backend, **settings), id=person_id, username=f"p{person_id}")
    await person.consent()
    return person


async def test_browse_paginates_five_a_page_newest_first(sql_backend):  # type: ignore[no-untyped-def]
    lab = await add_lab(sql_backend.sessions)
    await add_proposals(sql_backend.sessions, lab, 12)
    await add_proposals(sql_backend.sessions, lab, 1, status="pending", prefix="Hidden")
    ana = await citizen(sql_backend)
    await ana.press("Proposals")
    assert "Which proposals do you want to see?" in ana.shown  # one lab: no lab choice
    await ana.press("All proposals")
    assert "Newest first · page 1 of 3" in ana.shown
    assert ana.labels()[:5] == [f"{n}. Proposal {13 - n}" for n in range(1, 6)]
    assert "Hidden" not in ana.shown
    assert "Previous" not in " ".join(ana.labels())
    await ana.press("Next")
    assert "page 2 of 3" in ana.shown and "6. Proposal 7" in ana.labels()
    await ana.press("Next")
    assert "page 3 of 3" in ana.shown
    assert [b for b in ana.labels() if b[0].isdigit()] == ["11. Proposal 2", "12. Proposal 1"]
    assert "Next ▶️" not in ana.labels()
    await ana.press("Previous")
    assert "page 2 of 3" in ana.shown


async def test_service_filter_shows_only_that_service(sql_backend):  # type: ignore[no-untyped-def]
    lab = await add_lab(sql_backend.sessions)
    phone = await service_id(sql_backend.sessions, "phone-line-012")
    await add_proposals(sql_backend.sessions, lab, 2, service=phone, prefix="Phone idea")
    await add_proposals(sql_backend.sessions, lab, 3, prefix="General idea")
    ana = await citizen(sql_backend)
    await ana.press("Proposals")
    await ana.press("Phone line 012")
    assert "Tu Atención · Phone line 012" in ana.shown
    assert [b for b in ana.labels() if b[0].isdigit()] == ["1. Phone idea 2", "2. Phone idea 1"]
    await ana.press("Back")
    await ana.press("Registry offices")
    assert "There are no proposals here yet." in ana.shown


async def test_rating_stores_one_row_and_shows_the_live_result(sql_backend):  # type: ignore[no-untyped-def]
    lab = await add_lab(sql_backend.sessions)
    [proposal] = await add_proposals(sql_backend.sessions, lab, 1)
    ana, bruno = await citizen(sql_backend, 501), await citizen(sql_backend, 502)
    await bruno.press("Proposals")
    await bruno.press("All proposals")
    await bruno.press("1. Proposal 1")
    await bruno.press("5")
    await ana.press("Proposals")
    await ana.press("All proposals")
    await ana.press("1. Proposal 1")
    assert f"<b>Proposal 1</b> · PR-{proposal:06d}" in ana.shown
    assert "Text of Proposal 1" in ana.shown
    assert "Service: General (the whole laboratory)" in ana.shown
    assert "Proposed by: The administration" in ana.shown and "Status: Published" in ana.shown
    assert "5.0 of 5 from 1 rating" in ana.shown
    assert "5 stars: 1" not in ana.shown  # the distribution comes after rating
    assert "How much do you agree?" in ana.shown
    outcome = await ana.press("3")
    assert outcome.replies[0].text == "Thank you! You rated it 3."
    assert "4.0 of 5 from 2 ratings" in ana.shown
    assert "You rated it 3. Tap another number to change your rating." in ana.shown
    assert "5 stars: 1 ██████████\n4 stars: 0\n3 stars: 1 ██████████\n2 stars: 0\n" \
        "1 star: 0" in ana.shown
    assert "3 ✓" in ana.labels()
    await ana.press("1")  # changing it
    assert "3.0 of 5 from 2 ratings" in ana.shown and "1 ✓" in ana.labels()
    ratings = await rows(sql_backend.sessions, m.ProposalRating)
    assert sorted(r["score"] for r in ratings) == [1, 5]
    [stored] = await rows(sql_backend.sessions, m.Proposal)
    assert (stored["ratings_count"], stored["ratings_sum"], stored["rated_1"],
            stored["rated_3"], stored["rated_5"]) == (2, 6, 1, 0, 1)
    assert stored["id"] == proposal


async def test_typing_a_rating_works_and_bad_ones_are_explained(sql_backend):  # type: ignore[no-untyped-def]
    lab = await add_lab(sql_backend.sessions)
    await add_proposals(sql_backend.sessions, lab, 1)
    ana = await citizen(sql_backend)
    await ana.press("Proposals")
    await ana.press("All proposals")
    await ana.press("1. Proposal 1")
    await ana.text("9")
    assert "Please tap a number from 1 to 5" in ana.shown
    await ana.media("sticker")
    assert "I can't use that here" in ana.history[-1].replies[0].text
    await ana.text("4")
    assert "You rated it 4." in ana.shown


async def test_best_rated_uses_the_bayesian_average(sql_backend):  # type: ignore[no-untyped-def]
    lab = await add_lab(sql_backend.sessions)
    one_five, many_fours = await add_proposals(sql_backend.sessions, lab, 2)
    people = [await citizen(sql_backend, 600 + n) for n in range(6)]
    async with SqlUnitOfWork(sql_backend.sessions) as uow:
        ids = [(await uow.citizens.by_telegram_id(p.id)).id for p in people]
        await uow.proposals.rate(one_five, ids[0], 5, NOW)
        for citizen_id in ids[1:]:
            await uow.proposals.rate(many_fours, citizen_id, 4, NOW)
        await uow.commit()
    ana = people[0]
    await ana.press("Proposals")
    await ana.press("All proposals")
    assert ana.labels()[0] == "1. Proposal 2"  # the newest
    await ana.press("Best rated first")
    assert "Best rated first · page 1 of 1" in ana.shown
    assert ana.labels()[:2] == ["1. Proposal 2", "2. Proposal 1"]  # five 4s beat one 5
    await ana.press("Newest first")
    assert "Newest first" in ana.shown


async def test_ratings_closed_say_so_and_store_nothing(sql_backend):  # type: ignore[no-untyped-def]
    lab = await add_lab(sql_backend.sessions, phases={
        "proposals": (NOW - timedelta(days=30), None),
        "ratings": (NOW - timedelta(days=30), NOW - timedelta(days=1))})
    await add_proposals(sql_backend.sessions, lab, 1)
    ana = await citizen(sql_backend)
    await ana.press("Proposals")
    await ana.press("All proposals")
    await ana.press("1. Proposal 1")
    assert "Ratings for this laboratory are closed." in ana.shown
    assert "🔒 Ratings are closed" in ana.labels()
    outcome = await ana.press("Ratings are closed")
    assert outcome.replies[0].text == "Ratings for this laboratory are closed."
    forged = CallbackData("pr", "rate", ("5",), int(ana.button("Main menu").split("@")[1]))
    await ana.press_data(forged.encode())
    assert await rows(sql_backend.sessions, m.ProposalRating) == []


async def test_a_hidden_or_forged_proposal_is_not_available(sql_backend):  # type: ignore[no-untyped-def]
    lab = await add_lab(sql_backend.sessions)
    [first, second] = await add_proposals(sql_backend.sessions, lab, 2)
    [pending] = await add_proposals(sql_backend.sessions, lab, 1, status="pending",
                                    prefix="Pending")
    ana = await citizen(sql_backend)
    await ana.press("Proposals")
    await ana.press("All proposals")
    step = int(ana.button("Main menu").split("@")[1])
    for forged_id in (pending, 999_999):
        await ana.press_data(CallbackData("pr", "open", (str(forged_id),), step).encode())
        assert "Sorry, that is no longer available." in ana.shown
        assert "What would you like to do?" in ana.shown
        await ana.press("Proposals")
        await ana.press("All proposals")
        step = int(ana.button("Main menu").split("@")[1])
    await ana.press("1. Proposal 2")
    async with sql_backend.sessions() as session:  # a moderator hides it meanwhile
        await session.execute(update(m.Proposal).where(m.Proposal.id == second)
                              .values(status="rejected"))
        await session.commit()
    await ana.press("4")
    assert "Sorry, that is no longer available." in ana.shown
    assert await rows(sql_backend.sessions, m.ProposalRating) == []
    assert first


async def test_submitting_stores_a_pending_proposal_with_a_reference(sql_backend):  # type: ignore[no-untyped-def]
    await add_lab(sql_backend.sessions)
    ana = await citizen(sql_backend)
    await ana.press("Proposals")
    await ana.press("All proposals")
    await ana.press("Submit a proposal")
    assert "Write a short title for your proposal (up to 120 characters)." in ana.shown
    await ana.text("x" * 121)
    assert "Your message has 121 characters and the limit is 120." in ana.shown
    await ana.media("sticker")
    assert "Please write your proposal as a text message." in ana.history[-1].replies[0].text
    await ana.text("Open  on <Saturdays> & Sundays")
    assert "up to 2,000 characters" in ana.shown
    await ana.text("y" * 2001)
    assert "2,001 characters and the limit is 2,000" in ana.shown
    await ana.text("Many people work on weekdays.")
    assert "Which service is your proposal about?" in ana.shown
    await ana.press("Registry offices")
    assert "Open on &lt;Saturdays&gt; &amp; Sundays" in ana.shown
    assert "Service: Registry offices" in ana.shown
    await ana.press("Change service")
    await ana.press("General")
    assert "Service: General (the whole laboratory)" in ana.shown
    assert await rows(sql_backend.sessions, m.Proposal) == []  # nothing before Send
    await ana.press("Send")
    [stored] = await rows(sql_backend.sessions, m.Proposal)
    assert stored["status"] == "pending" and stored["author_kind"] == "citizen"
    assert stored["title"] == {"en": "Open on <Saturdays> & Sundays"}
    assert stored["service_id"] is None and stored["slug"] == f"pr-{stored['id']:06d}"
    assert f"PR-{stored['id']:06d}" in ana.shown
    await ana.press("See proposals")
    assert "There are no proposals here yet." in ana.shown  # pending: not shown to anyone


async def test_the_daily_limit_is_explained(sql_backend):  # type: ignore[no-untyped-def]
    await add_lab(sql_backend.sessions, services=())
    ana = await citizen(sql_backend, proposals_per_day=1)
    await ana.press("Proposals")
    assert "There are no proposals here yet." in ana.shown  # no services: no filter
    await ana.press("Submit a proposal")
    await ana.text("Shorter queues")
    await ana.text("Because.")
    assert "Service: General (the whole laboratory)" in ana.shown  # no services: no choice
    await ana.press("Send")
    await ana.press("See proposals")
    await ana.press("Submit a proposal")
    assert "You have sent 1 proposal today, the most a day." in ana.shown
    assert len(await rows(sql_backend.sessions, m.Proposal)) == 1


async def test_submitting_needs_the_proposals_phase(sql_backend):  # type: ignore[no-untyped-def]
    lab = await add_lab(sql_backend.sessions, phases={"ratings": (NOW - timedelta(days=1),
                                                                  None)})
    await add_proposals(sql_backend.sessions, lab, 1)
    ana = await citizen(sql_backend)
    await ana.press("Proposals")
    await ana.press("All proposals")
    assert "Submit a proposal" not in " ".join(ana.labels())


async def test_status_change_notifies_author_and_raters_once_in_their_language(sql_backend):  # type: ignore[no-untyped-def]
    await add_lab(sql_backend.sessions, services=())
    ana = await citizen(sql_backend, 501)
    await ana.press("Proposals")
    await ana.press("Submit a proposal")
    await ana.text("Saturday opening")
    await ana.text("Please.")
    await ana.press("Send")
    [proposal] = await rows(sql_backend.sessions, m.Proposal)
    bruno = await citizen(sql_backend, 502)
    async with sql_backend.sessions() as session:  # Bruno reads Spanish
        await session.execute(update(m.Citizen).where(m.Citizen.telegram_id == 502)
                              .values(language="es"))
        await session.commit()
    quiet = await citizen(sql_backend, 503)
    await quiet.press("Notifications")
    await quiet.press("Updates on what I took part in")
    assert "⬜ Updates on what I took part in: off" in quiet.labels()

    async def set_status(status: str, reason: str | None = None):  # type: ignore[no-untyped-def]
        async with SqlUnitOfWork(sql_backend.sessions) as uow:
            done = await change_status(uow, proposal["slug"], status, reason, NOW,
                                       language="en", timezone="Europe/Madrid")
            await uow.commit()
            return done

    assert await set_status("published") == ("pending", 1)  # only the author so far
    for person in (bruno, quiet):
        await person.command(f"/start prop-{proposal['slug']}")
        await person.press("4")
        assert "✓" in " ".join(person.labels())
    assert await set_status("accepted", "We will open on Saturdays from March.") == \
        ("published", 2)
    assert await set_status("accepted") == ("accepted", 0)  # no change, no message
    assert await set_status("rejected", "Sorry") == ("accepted", 2)
    outbox = await rows(sql_backend.sessions, m.OutboxMessage)
    assert outbox[-1]["buttons"] is None  # rejected: nothing to open
    stale = await ana.press_data(f"pr:show:{proposal['id']}")
    assert stale.replies[0].text == "Sorry, that proposal is not available."
    await set_status("accepted", "We will open on Saturdays from March.")
    outbox = (await rows(sql_backend.sessions, m.OutboxMessage))[:3]
    assert [(o["chat_id"], o["dedupe_key"]) for o in outbox] == [
        (501, f"proposal-status:{proposal['id']}:published:{outbox[0]['citizen_id']}"),
        (501, f"proposal-status:{proposal['id']}:accepted:{outbox[1]['citizen_id']}"),
        (502, f"proposal-status:{proposal['id']}:accepted:{outbox[2]['citizen_id']}"),
    ]
    assert "News about your proposal" in outbox[1]["body"]
    assert "New status: <b>Accepted</b>" in outbox[1]["body"]
    assert "We will open on Saturdays from March." in outbox[1]["body"]
    assert outbox[1]["buttons"] == [["💡 Open the proposal", f"pr:show:{proposal['id']}"]] \
        or outbox[1]["buttons"] == [[["💡 Open the proposal", f"pr:show:{proposal['id']}"]]]
    # The button under the news opens the proposal, whatever the conversation is doing.
    await ana.command("/notifications")
    await ana.press_data(f"pr:show:{proposal['id']}")
    assert "<b>Saturday opening</b>" in ana.shown and "Status: Accepted" in ana.shown
    assert "We will open on Saturdays from March." in ana.shown
    await ana.press("5")
    assert "You rated it 5." in ana.shown
    assert "Nuevo estado: <b>Aceptada</b>" in outbox[2]["body"]  # Bruno reads Spanish
    assert "Novedades de una propuesta que valoraste" in outbox[2]["body"]


async def test_an_unknown_slug_changes_nothing(sql_backend):  # type: ignore[no-untyped-def]
    async with SqlUnitOfWork(sql_backend.sessions) as uow:
        assert await change_status(uow, "nope", "published", None, NOW, language="es",
                                   timezone="Europe/Madrid") is None


async def test_notifications_menu_switches_each_preference(sql_backend):  # type: ignore[no-untyped-def]
    ana = await citizen(sql_backend)
    await ana.command("/notifications")
    assert "✅ Updates on what I took part in: on" in ana.labels()
    assert "⬜ News from the laboratories: off" in ana.labels()
    await ana.press("News from the laboratories")
    await ana.press("Invitations to workshops")
    await ana.press("Updates on what I took part in")
    [prefs] = await rows(sql_backend.sessions, m.NotificationPreferences)
    assert (prefs["participation_updates"], prefs["news"], prefs["workshop_invitations"]) == \
        (False, True, True)
    assert "⬜ Updates on what I took part in: off" in ana.labels()
    await ana.press("Main menu")
    assert "What would you like to do?" in ana.shown


async def test_my_participation_lists_opinions_proposals_and_ratings(sql_backend):  # type: ignore[no-untyped-def]
    lab = await add_lab(sql_backend.sessions)
    await add_proposals(sql_backend.sessions, lab, 1, prefix="Rated one")
    ana = await citizen(sql_backend)
    await ana.press("My participation")
    assert "You haven't taken part yet." in ana.shown
    await ana.press("Main menu")
    await ana.press("Give my opinion")
    await ana.press("Phone line 012")
    await ana.press("4")
    await ana.press("Skip")
    await ana.press("Send")
    await ana.press("Main menu")
    await ana.press("Proposals")
    await ana.press("All proposals")
    await ana.press("1. Rated one 1")
    await ana.press("2")
    await ana.press("Main menu")
    await ana.press("Proposals")
    await ana.press("All proposals")
    await ana.press("Submit a proposal")
    await ana.text("My <idea>")
    await ana.text("Details")
    await ana.press("General")
    await ana.press("Send")
    await ana.press("Main menu")
    await ana.press("My participation")
    assert "Opinion OP-000001 on Phone line 012: ★★★★☆" in ana.shown
    assert "Proposal PR-000002: My &lt;idea&gt;. Status: Waiting for moderation" in ana.shown
    assert "You rated 2 of 5: Rated one 1. Status: Published" in ana.shown


async def test_my_participation_is_paginated(sql_backend):  # type: ignore[no-untyped-def]
    lab = await add_lab(sql_backend.sessions)
    ids = await add_proposals(sql_backend.sessions, lab, 10)
    ana = await citizen(sql_backend)
    async with SqlUnitOfWork(sql_backend.sessions) as uow:
        me = (await uow.citizens.by_telegram_id(ana.id)).id
        for n, proposal_id in enumerate(ids):
            await uow.proposals.rate(proposal_id, me, 3, NOW + timedelta(minutes=n))
        await uow.commit()
    await ana.press("My participation")
    assert "Page 1 of 2" in ana.shown and ana.shown.count("You rated 3 of 5") == 8
    assert "Proposal 10." in ana.shown  # newest first
    await ana.press("Next")
    assert "Page 2 of 2" in ana.shown and ana.shown.count("You rated 3 of 5") == 2


async def test_deep_link_opens_a_proposal_and_refuses_hidden_ones(sql_backend):  # type: ignore[no-untyped-def]
    lab = await add_lab(sql_backend.sessions)
    await add_proposals(sql_backend.sessions, lab, 3)
    await add_proposals(sql_backend.sessions, lab, 1, status="pending", prefix="Secret")
    async with sql_backend.sessions() as session:
        slugs = (await session.execute(select(m.Proposal.slug).order_by(m.Proposal.id)
                                       )).scalars().all()
    ana = await citizen(sql_backend)
    await ana.command(f"/start prop-{slugs[1]}")
    assert "<b>Proposal 2</b>" in ana.shown and "How much do you agree?" in ana.shown
    await ana.press("5")
    await ana.press("Back")
    assert "Newest first · page 1 of 1" in ana.shown
    for hidden in (slugs[3], "no-such-proposal"):
        await ana.command(f"/start prop-{hidden}")
        assert "Sorry, that proposal is not available." in ana.shown
        assert "What would you like to do?" in ana.shown
    newcomer = Person(make_engine(sql_backend), id=777)
    await newcomer.command(f"/start prop-{slugs[0]}")
    await newcomer.press("Continue")
    await newcomer.press("OK")
    assert "<b>Proposal 1</b>" in newcomer.shown  # the link survives the privacy notice


async def test_deleteme_removes_a_pending_proposal_or_keeps_it_anonymously(sql_backend):  # type: ignore[no-untyped-def]
    await add_lab(sql_backend.sessions, services=())
    for person_id, choice in ((801, "Delete everything"),
                              (802, "Keep my comments without my name")):
        person = await citizen(sql_backend, person_id)
        await person.press("Proposals")
        await person.press("Submit a proposal")
        await person.text(f"Idea of {person_id}")
        await person.text("Details")
        await person.press("Send")
        await person.command("/deleteme")
        await person.press(choice)
        assert "Proposals: 1" in person.history[-1].replies[-1].text
    [kept] = await rows(sql_backend.sessions, m.Proposal)
    assert kept["title"] == {"en": "Idea of 802"} and kept["citizen_id"] is None
    assert kept["status"] == "pending"  # a moderator may still publish it
