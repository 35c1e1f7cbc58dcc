"""Broadcast audiences and buttons added with workshops and proposals: "took
part in lab Y" counts proposals, ratings and workshop sign-ups too; "signed
up for workshop X"; a "Sign me up" button that opens a workshop's sign-up."""

# The town fixture is imported and used as a parameter (ruff: a redefinition).
# ruff: noqa: F811

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from conversations.vocabulary import Send
from storage import models as m
from storage.sql import SqlUnitOfWork
from tests.harness import NOW
from tests.test_broadcasts import STAFF_ID, outbox, town  # noqa: F401
from tests.workshop_fixtures import add_workshop

__all__ = ["STAFF_ID"]


async def citizen_id(backend, telegram_id: int) -> int:  # type: ignore[no-untyped-def]
    async with backend.sessions() as session:
        return (await session.execute(select(m.Citizen.id).where(
            m.Citizen.telegram_id == telegram_id))).scalar_one()


async def lab_id(backend) -> int:  # type: ignore[no-untyped-def]
    async with backend.sessions() as session:
        return (await session.execute(select(m.Lab.id))).scalar_one()


async def open_workshops(backend) -> None:  # type: ignore[no-untyped-def]
    async with backend.sessions() as session:
        session.add(m.LabPhase(lab_id=await lab_id(backend), phase="workshops",
                               opens_at=NOW - timedelta(days=30), closes_at=None))
        await session.commit()


def proposal(lab: int, citizen: int | None, slug: str) -> m.Proposal:
    return m.Proposal(slug=slug, lab_id=lab, title={"en": slug}, description={"en": slug},
                      author_kind="citizen" if citizen else "staff", citizen_id=citizen,
                      language="en", status="published", answer={}, created_at=NOW,
                      updated_at=NOW, status_changed_at=NOW)


def registration(workshop: int, citizen: int, status: str) -> m.Registration:
    return m.Registration(workshop_id=workshop, citizen_id=citizen, status=status,
                          created_at=NOW, checkin_token=f"token-{workshop}-{citizen}")


async def test_took_part_in_a_lab_counts_proposals_ratings_and_workshops(town):  # type: ignore[no-untyped-def]
    backend, staff, citizens = town
    lab = await lab_id(backend)
    ana, bea, eki = [await citizen_id(backend, citizens[n].id) for n in ("ana", "bea", "eki")]
    workshop = await add_workshop(backend.sessions, NOW, lab_id=lab)
    async with backend.sessions() as session:
        session.add(proposal(lab, ana, "anas-idea"))  # Ana submitted one
        staffs = proposal(lab, None, "staff-idea")
        session.add(staffs)
        await session.flush()
        session.add(m.ProposalRating(proposal_id=staffs.id, citizen_id=bea, score=4,
                                     rated_at=NOW))  # Bea rated one
        session.add(registration(workshop, eki, "waitlisted"))  # Eki is waiting
        await session.commit()

    await staff.command("/broadcast")
    await staff.press("News")
    await staff.press("Those who took part in a laboratory")
    assert "a workshop sign-up" in staff.shown
    await staff.press("Tu Atención")
    await staff.text("Thanks for taking part")
    await staff.press("That's all")
    await staff.press("No button")
    assert "Recipients: 3 citizens" in staff.shown
    await staff.press("Send to 3 citizens")
    assert {r.chat_id for r in await outbox(backend)} == \
        {citizens[n].id for n in ("ana", "bea", "eki")}

    # A cancelled sign-up is not taking part.
    async with backend.sessions() as session:
        await session.execute(update(m.Registration).values(status="cancelled"))
        await session.commit()
    async with SqlUnitOfWork(backend.sessions) as uow:
        counts = await uow.broadcasts.count("news", "lab", str(lab))
    assert sum(counts.values()) == 2


async def test_an_invitation_to_those_signed_up_with_sign_me_up(town):  # type: ignore[no-untyped-def]
    backend, staff, citizens = town
    await open_workshops(backend)
    lab = await lab_id(backend)
    first = await add_workshop(backend.sessions, NOW, slug="first", lab_id=lab,
                               starts_in=timedelta(days=-10),
                               title={"en": "First session", "es": "Primera sesión"})
    second = await add_workshop(backend.sessions, NOW, slug="second", lab_id=lab,
                                starts_in=timedelta(days=7),
                                title={"en": "Second session", "es": "Segunda sesión"})
    ids = {n: await citizen_id(backend, citizens[n].id) for n in citizens}
    async with backend.sessions() as session:
        await session.execute(update(m.NotificationPreferences).values(
            workshop_invitations=True))
        session.add(registration(first, ids["ana"], "confirmed"))
        session.add(registration(first, ids["bea"], "attended"))
        session.add(registration(first, ids["eki"], "waitlisted"))  # not signed up
        session.add(registration(first, ids["dan"], "cancelled"))
        await session.commit()

    await staff.command("/broadcast")
    await staff.press("Workshop invitation")
    await staff.press("Those signed up for a workshop")
    assert "Which workshop?" in staff.shown
    await staff.press("First session")
    await staff.text("¡Venid a la segunda!")
    await staff.press("Skip")  # Català
    await staff.text("Come to the second one!")
    await staff.press("That's all")
    assert "✍️ Sign me up: Second session" in " ".join(staff.labels())
    assert "First session" not in " ".join(staff.labels())  # over: no sign-up
    outcome = await staff.press("Sign me up: Second session")
    previews = [r for r in outcome.replies if isinstance(r, Send) and r.buttons]
    assert [p.buttons[0][0].label for p in previews[:2]] == ["✍️ Apúntame", "✍️ Sign me up"]
    assert "Those signed up for First session" in staff.shown
    assert "Recipients: 2 citizens" in staff.shown
    await staff.press("Send to 2 citizens")
    rows = {r.chat_id: r for r in await outbox(backend)}
    assert set(rows) == {citizens["ana"].id, citizens["bea"].id}

    # Ana taps "Sign me up" in the invitation: that workshop's sign-up.
    ana = citizens["ana"]
    sign_me_up = rows[ana.id].buttons[0][0][1]
    await ana.press_data(sign_me_up)
    assert "Workshop registration" in ana.shown and "Second session" in ana.shown
    await ana.press("I agree")
    async with backend.sessions() as session:
        mine = (await session.execute(select(m.Registration.status).where(
            m.Registration.workshop_id == second,
            m.Registration.citizen_id == ids["ana"]))).scalar_one()
    assert mine == "confirmed"
    # Tapping it again shows where she stands.
    await ana.press_data(sign_me_up)
    assert "You are signed up." in ana.shown

    # Once the workshop is cancelled the button says so, politely.
    async with backend.sessions() as session:
        await session.execute(update(m.Workshop).where(m.Workshop.id == second)
                              .values(status="cancelled"))
        await session.commit()
    await ana.press_data(sign_me_up)
    assert "Sorry, that is no longer available." in ana.shown
