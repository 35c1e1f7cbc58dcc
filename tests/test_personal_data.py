"""/mydata hands over everything about a person; /deleteme and the purge leave
nothing that identifies them; every table is classified."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import ForeignKey, select, update

from conversations.vocabulary import Chat, Document, Notify
from storage import models as m
from storage.outbox import NewNotification
from storage.personal_data import NOT_PERSONAL, PERSONAL, purge_inactive
from storage.sql import SqlUnitOfWork
from storage.workshops import NewQuestion
from tests.harness import NOW, Person, SqlBackend, make_engine
from tests.proposals_fixtures import add_proposals, rows
from tests.workshop_fixtures import add_workshop

PERSON_COLUMNS = {"telegram_id", "user_id", "citizen_id", "chat_id"}
USERNAME, COMMENT = "ana_rights", "My neighbour Juan Pérez waited 3 hours"
PROPOSAL = "Saturday opening for everyone"


def test_every_table_is_classified_and_personal_ones_are_covered():
    tables = m.Base.metadata.tables
    assert set(PERSONAL) & set(NOT_PERSONAL) == set()
    unclassified = set(tables) - set(PERSONAL) - set(NOT_PERSONAL)
    assert unclassified == set(), "classify new tables in storage/personal_data.py"
    for name, table in tables.items():
        refers_to_people = any(
            isinstance(fk, ForeignKey) and fk.column.table.name == "citizens"
            for column in table.columns for fk in column.foreign_keys
        ) or bool(PERSON_COLUMNS & set(table.columns.keys()))
        if refers_to_people and name != "citizens":
            assert name in PERSONAL, f"{name} refers to people: list it in PERSONAL"


@pytest.fixture
async def sql_backend(backend):  # type: ignore[no-untyped-def]
    if not isinstance(backend, SqlBackend):
        pytest.skip("checks every table of the database")
    await backend.add_lab("tu-atencion", "Tu Atención", ["Phone line 012"])
    return backend


GROUP, BOSS = -100500, 990


def engine(backend, **settings):  # type: ignore[no-untyped-def]
    return make_engine(backend, moderators_chat_id=GROUP, admin_ids=frozenset({BOSS}),
                       **settings)


async def sign_up_with_answers(backend, citizen_id: int) -> None:  # type: ignore[no-untyped-def]
    """A workshop seat with an ordinary and a sensitive answer."""
    workshop_id = await add_workshop(backend.sessions, NOW, questions=(
        NewQuestion("text", {"en": "Your organisation?"}),
        NewQuestion("text", {"en": "Accessibility needs?"}, sensitive=True)))
    async with SqlUnitOfWork(backend.sessions) as uow:
        first, second = await uow.workshops.questions(workshop_id)
        await uow.workshops.sign_up(workshop_id, citizen_id, NOW, answers=[
            (first, "Neighbours' association"), (second, "Wheelchair access")])
        await uow.commit()


async def person_with_everything(backend) -> Person:  # type: ignore[no-untyped-def]
    """A citizen with a row in every personal table."""
    ana = Person(engine(backend), id=880_001, username=USERNAME)
    await ana.consent()
    await ana.press("Give my opinion")
    await ana.press("Phone line 012")
    await ana.press("4")
    await ana.text(COMMENT)
    await ana.press("Send")
    # A ticket, posted in the group (message 70), moderated, and a block.
    await ana.press("Main menu")
    await ana.press("Ask or tell us something")
    await ana.text("Please call me back", message_id=5)
    async with backend.sessions() as session:
        ticket = (await session.execute(select(m.Ticket))).scalar_one()
        ticket.group_message_id = 70
        await session.commit()
    boss = Person(engine(backend), id=BOSS, first_name="Marta", username="marta",
                  chat=Chat(GROUP, "supergroup"))
    await boss.text("We will", reply_to_message_id=70)
    await boss.command("/hide OP-1 names a person")
    await boss.command(f"/block {ana.id} insults")
    await ana.command("/menu")
    async with backend.sessions() as session:
        lab_id = (await session.execute(select(m.Lab.id))).scalar_one()
        for phase in ("proposals", "ratings"):
            session.add(m.LabPhase(lab_id=lab_id, phase=phase, opens_at=NOW - timedelta(days=1)))
        await session.commit()
    [published] = await add_proposals(backend.sessions, lab_id, 1, prefix="Staff idea")
    await ana.press("Proposals")
    await ana.press("All proposals")
    await ana.press("1. Staff idea 1")
    await ana.press("4")
    await ana.press("Back")
    await ana.press("Submit a proposal")
    await ana.text(PROPOSAL)
    await ana.text(COMMENT)
    await ana.press("General")
    await ana.press("Send")
    async with backend.sessions() as session:  # a moderator publishes it
        await session.execute(update(m.Proposal).where(m.Proposal.id != published)
                              .values(status="published"))
        citizen = (await session.execute(select(m.Citizen))).scalar_one()
        session.add(m.Role(citizen_id=citizen.id, role="moderator", granted_at=NOW))
        session.add(m.Broadcast(kind="news", created_by=citizen.id, status="done",
                                audience={"key": "all"}, bodies={"es": "Hola"}, buttons=[],
                                created_at=NOW))
        await session.commit()
    async with SqlUnitOfWork(backend.sessions) as uow:
        await uow.outbox.enqueue(NewNotification(chat_id=ana.id, created_at=NOW,
                                                 body="Your proposal was accepted"))
        await uow.commit()
    await sign_up_with_answers(backend, citizen.id)
    other = Person(engine(backend), id=880_002, username="someone_else",
                   first_name="Bruno")
    await other.consent()
    return ana


async def test_mydata_holds_every_personal_table(sql_backend):  # type: ignore[no-untyped-def]
    ana = await person_with_everything(sql_backend)
    outcome = await ana.command("/mydata")
    [document] = [r for r in outcome.replies if isinstance(r, Document)]
    assert document.name.startswith("participa-my-data-") and document.name.endswith(".json")
    data = json.loads(document.content)["data"]
    assert set(data) == set(PERSONAL)
    empty = [name for name in PERSONAL if not data[name]]
    assert empty == [], f"no rows exported for {empty}"
    assert data["citizens"][0]["username"] == USERNAME
    assert data["opinions"][0]["comment"] == COMMENT
    assert data["proposals"][0]["title"] == {"en": PROPOSAL}
    assert data["proposal_ratings"][0]["score"] == 4
    assert "someone_else" not in document.content.decode()
    summary = outcome.replies[-1].text
    assert "Opinions: 1" in summary and "Your profile: 1" in summary
    assert "Proposals: 1" in summary and "Ratings of proposals: 1" in summary


async def everything_in_the_database(backend) -> str:  # type: ignore[no-untyped-def]
    async with backend.sessions() as session:
        dump = []
        for table in m.Base.metadata.sorted_tables:
            dump.extend(repr(tuple(row)) for row in (await session.execute(select(table))).all())
    return "\n".join(dump)


@pytest.mark.parametrize("choice", ["Delete everything", "Keep my comments without my name"])
async def test_deleteme_leaves_nothing_that_identifies_them(sql_backend, choice):  # type: ignore[no-untyped-def]
    ana = await person_with_everything(sql_backend)
    async with sql_backend.sessions() as session:
        citizen_id = (await session.execute(select(m.Citizen.id).where(
            m.Citizen.telegram_id == ana.id))).scalar_one()
    await ana.command("/deleteme")
    assert "Your ratings stay in the totals" in ana.shown
    await ana.press(choice)
    report = ana.history[-1].replies[-1].text
    assert "Done. This is what we deleted:" in report and "Your profile: 1" in report

    dump = await everything_in_the_database(sql_backend)
    for trace in (str(ana.id), USERNAME, "Ana"):
        assert trace not in dump, f"{trace} still stored"
    # No row of any table still points at the erased citizen's id.
    async with sql_backend.sessions() as session:
        for table in m.Base.metadata.sorted_tables:
            for column in table.columns:
                if any(fk.column.table.name == "citizens" for fk in column.foreign_keys):
                    linked = (await session.execute(
                        select(table).where(column == citizen_id))).all()
                    assert linked == [], f"{table.name}.{column.name} still links them"
    [opinion] = await sql_backend.opinions()
    assert opinion["citizen_id"] is None and opinion["rating"] == 4  # still in the totals
    kept = choice.startswith("Keep")
    assert (opinion["comment"] == COMMENT) is kept
    assert citizen_id not in [o["citizen_id"] for o in await sql_backend.opinions()]
    [rating] = await rows(sql_backend.sessions, m.ProposalRating)
    assert rating["citizen_id"] is None and rating["score"] == 4
    staff, own = await rows(sql_backend.sessions, m.Proposal)
    assert staff["ratings_count"] == 1 and staff["rated_4"] == 1  # still in the totals
    assert own["citizen_id"] is None and own["status"] == "published"
    assert (own["title"] == {"en": PROPOSAL}) is kept
    assert (own["description"] == {}) is not kept
    async with sql_backend.sessions() as session:
        queued = (await session.execute(select(m.OutboxMessage.kind, m.OutboxMessage.status,
                                               m.OutboxMessage.chat_id,
                                               m.OutboxMessage.target_message_id))).all()
    # Everything queued about them is cancelled; their ticket's post in the
    # group (younger than 48 hours) is queued for deletion.
    assert {status for kind, status, _, _ in queued if kind != "delete"} == {"cancelled"}
    assert [(c, t) for kind, _, c, t in queued if kind == "delete"] == [(GROUP, 70)]
    assert await sql_backend.citizen(880_002) is not None  # nobody else was touched

    await ana.text("hola")  # coming back: a stranger again
    assert "Hello! This is the participation channel" in ana.shown


async def test_deleteme_says_which_group_messages_are_too_old_to_delete(sql_backend):  # type: ignore[no-untyped-def]
    ana = await person_with_everything(sql_backend)
    later = Person(engine(sql_backend, clock=lambda: NOW + timedelta(days=3)), id=ana.id,
                   username=USERNAME)
    await later.command("/deleteme")
    await later.press("Delete everything")
    report = later.history[-1].replies[-1].text
    assert "Nor 1 of your messages in the moderators' group: it is older than 48 hours" \
        in report
    async with sql_backend.sessions() as session:
        kinds = (await session.execute(select(m.OutboxMessage.kind))).scalars().all()
    assert "delete" not in kinds


async def test_deleteme_can_be_cancelled(sql_backend):  # type: ignore[no-untyped-def]
    ana = await person_with_everything(sql_backend)
    await ana.command("/deleteme")
    await ana.press("Cancel")
    assert "Cancelled. Nothing was deleted." in ana.shown
    assert await sql_backend.citizen(ana.id) is not None


async def test_someone_who_never_consented_can_be_erased_too(backend):  # type: ignore[no-untyped-def]
    stranger = Person(make_engine(backend), id=880_003)
    await stranger.command("/start")
    await stranger.press("English")
    await stranger.command("/deleteme")
    await stranger.press("Delete everything")
    assert "Where you are in the conversation: 1" in stranger.history[-1].replies[-1].text


async def test_consent_can_be_withdrawn_from_privacy(sql_backend):  # type: ignore[no-untyped-def]
    ana = await person_with_everything(sql_backend)
    outcome = await ana.command("/privacy")
    overview = outcome.replies[0]
    assert "Taking part (privacy notice): consent given on" in overview.text
    withdraw = overview.buttons[0][0]
    assert withdraw.label.startswith("Withdraw")
    asked = await ana.press_data(withdraw.data)
    confirm = asked.replies[-1].buttons[0][0]
    await ana.press_data(confirm.data)
    [consent] = [c for c in await sql_backend.consents() if c["citizen_id"] is not None
                 and c["withdrawn_at"] is not None]
    assert consent["purpose"] == "privacy"
    async with sql_backend.sessions() as session:
        statuses = (await session.execute(select(m.OutboxMessage.status).where(
            m.OutboxMessage.chat_id == ana.id))).scalars().all()
    assert set(statuses) == {"cancelled"}
    await ana.text("hello?")
    assert "Hello! This is the participation channel" in ana.shown  # must accept again
    again = await ana.press_data(confirm.data)  # the old confirm button rechecks
    assert again.replies[0].text == "This button has expired."


async def test_the_purge_erases_only_people_inactive_for_the_retention(sql_backend):  # type: ignore[no-untyped-def]
    ana = await person_with_everything(sql_backend)
    later = NOW + timedelta(days=400)
    fresh = Person(make_engine(sql_backend, clock=lambda: later), id=880_004)
    await fresh.consent()
    dry = await purge_inactive(sql_backend.sessions, later, 365, dry_run=True)
    assert dry.people == 2 and dry.counts == {}  # ana and the other one, not fresh
    assert await sql_backend.citizen(ana.id) is not None
    report = await purge_inactive(sql_backend.sessions, later, 365)
    assert report.people == 2 and report.counts["citizens"] == 2
    assert await sql_backend.citizen(ana.id) is None
    assert await sql_backend.citizen(fresh.id) is not None
    [opinion] = await sql_backend.opinions()
    assert opinion["comment"] is None and opinion["rating"] == 4


async def test_notifications_are_still_never_sent_directly(sql_backend):  # type: ignore[no-untyped-def]
    ana = await person_with_everything(sql_backend)
    outcome = await ana.command("/mydata")
    assert not any(isinstance(r, Notify) for r in outcome.replies)
