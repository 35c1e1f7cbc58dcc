"""Proposals waiting for moderation: posted in the moderators' group, published
or rejected there (buttons, a reply with the reason, /publish and /reject)."""

from __future__ import annotations

import asyncio

import pytest

from conversations.vocabulary import Answer, Edit, Send
from storage import models as m
from tests.harness import NOW, Person
from tests.moderation_helpers import BOSS, GROUP, button, engine_for, in_group, outbox, sent
from tests.proposals_fixtures import add_lab, rows


def said(outcome) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(r.text for r in outcome.replies if isinstance(r, Send))


def toast(outcome) -> str:  # type: ignore[no-untyped-def]
    return next(r.text or "" for r in outcome.replies if isinstance(r, Answer))


def edited(outcome) -> str:  # type: ignore[no-untyped-def]
    return next(r.text for r in outcome.replies if isinstance(r, Edit))


@pytest.fixture
async def world(sql_backend):  # type: ignore[no-untyped-def]
    await add_lab(sql_backend.sessions, services=())
    engine = engine_for(sql_backend)
    ana = Person(engine, language="es", username="ana")
    await ana.command("/start")
    await ana.press("Continuar")
    await ana.press("OK")
    boss = Person(engine, id=BOSS, first_name="Marta", username="marta")
    await boss.consent()
    return engine, ana, boss


async def submit(ana: Person, title: str = "Open on <Saturdays>") -> None:
    if "Menú principal" in ana.labels():  # after sending one
        await ana.press("Menú principal")
    await ana.press("Propuestas")
    await ana.press("Enviar una propuesta")
    await ana.text(title)
    await ana.text("Many people work on weekdays.")
    await ana.press("Enviar")


async def post(backend) -> dict:  # type: ignore[no-untyped-def]
    [found] = [r for r in await outbox(backend, GROUP) if r["dedupe_key"].endswith(":review")]
    return found


async def test_a_pending_proposal_is_posted_and_published_from_the_group(world, sql_backend):  # type: ignore[no-untyped-def]
    engine, ana, _ = world
    await submit(ana)
    row = await post(sql_backend)
    assert "New proposal PR-000001" in row["body"] and "Open on &lt;Saturdays&gt;" in row["body"]
    assert "Ana @ana" in row["body"] and "General (the whole laboratory)" in row["body"]
    await sent(sql_backend, row, 555)
    [review] = await rows(sql_backend.sessions, m.ProposalReview)
    assert review["post_message_id"] == 555 and review["group_chat_id"] == GROUP

    stranger = in_group(engine, 777, "Pepe")
    assert toast(await stranger.press_data(button(row, "Publish"))) == \
        "Only moderators can do this."
    marta = in_group(engine)
    done = await marta.press_data(button(row, "Publish"))
    assert toast(done) == "PR-000001 is published. 1 citizen has been told."
    assert "✅ Published by Marta." in edited(done)
    assert [r.buttons for r in done.replies if isinstance(r, Edit)] == [()]
    [proposal] = await rows(sql_backend.sessions, m.Proposal)
    assert proposal["status"] == "published"
    [news] = await outbox(sql_backend, ana.id)
    assert "Publicada" in news["body"]  # the author hears it in Spanish

    again = await marta.press_data(button(row, "Reject"))
    assert "is not waiting for moderation any more" in toast(again)
    assert "Status: Published" in edited(again)
    [entry] = await rows(sql_backend.sessions, m.AuditEntry)
    assert (entry["action"], entry["target"], entry["actor_telegram_id"]) == \
        ("publish", "PR-000001", BOSS)
    assert f"Marta ({BOSS}) published PR-000001" in said(await marta.command("/audit"))


async def test_reject_asks_for_the_reason_and_a_reply_gives_it(world, sql_backend):  # type: ignore[no-untyped-def]
    engine, ana, _ = world
    await submit(ana)
    row = await post(sql_backend)
    await sent(sql_backend, row, 555)
    marta = in_group(engine)
    asked = await marta.press_data(button(row, "Reject"))
    assert toast(asked) == "Reply to my question in the group with the reason."
    [prompt] = [r for r in await outbox(sql_backend, GROUP) if ":prompt:" in r["dedupe_key"]]
    assert "Marta, why is PR-000001 rejected?" in prompt["body"]
    await sent(sql_backend, prompt, 556)

    stranger = in_group(engine, 777, "Pepe")
    assert (await stranger.text("because", reply_to_message_id=556)).replies == []
    assert "Please write the reason as a text message." in \
        said(await marta.media("photo", reply_to_message_id=556))
    assert "at most 500 characters" in said(await marta.text("x" * 501,
                                                             reply_to_message_id=556))
    done = await marta.text("It is already <the case>", reply_to_message_id=556)
    assert said(done) == "PR-000001 is rejected. 1 citizen has been told."
    [proposal] = await rows(sql_backend.sessions, m.Proposal)
    assert proposal["status"] == "rejected"
    assert proposal["answer"] == {"en": "It is already <the case>"}
    [news] = await outbox(sql_backend, ana.id)
    assert "It is already &lt;the case&gt;" in news["body"]
    [edit] = [r for r in await outbox(sql_backend, GROUP) if r["kind"] == "edit"]
    assert edit["target_message_id"] == 555 and edit["buttons"] is None
    assert "🚫 Rejected by Marta. Reason: It is already &lt;the case&gt;" in edit["body"]
    late = await marta.text("another reason", reply_to_message_id=556)
    assert "is not waiting for moderation any more" in said(late)


async def test_publish_and_reject_commands(world, sql_backend):  # type: ignore[no-untyped-def]
    _, ana, boss = world
    await submit(ana, "First")
    await submit(ana, "Second")
    assert "Use it like this: /publish PR-45" in said(await boss.command("/publish"))
    assert "Use it like this: /reject PR-45" in said(await boss.command("/reject PR-1"))
    assert "There is no proposal PR-000099." in said(await boss.command("/publish PR-99"))
    assert "at most 500 characters" in said(await boss.command("/reject PR-1 " + "x" * 501))
    assert said(await boss.command("/publish pr-1")) == \
        "PR-000001 is published. 1 citizen has been told."
    assert said(await boss.command("/reject PR-000002 Duplicate of PR-1")) == \
        "PR-000002 is rejected. 1 citizen has been told."
    statuses = [p["status"] for p in await rows(sql_backend.sessions, m.Proposal)]
    assert statuses == ["published", "rejected"]
    assert "not waiting for moderation" in said(await boss.command("/reject PR-1 late"))
    # The posts were never sent (no message id yet): nothing to edit.
    assert [r for r in await outbox(sql_backend, GROUP) if r["kind"] == "edit"] == []
    unknown = said(await ana.command("/nosuchthing"))
    assert said(await ana.command("/publish PR-1")) == unknown.replace("/nosuchthing",
                                                                       "/publish")


async def test_without_a_moderators_group_nothing_is_posted(sql_backend):  # type: ignore[no-untyped-def]
    await add_lab(sql_backend.sessions, services=())
    ana = Person(engine_for(sql_backend, moderators_chat_id=None), language="es")
    await ana.command("/start")
    await ana.press("Continuar")
    await ana.press("OK")
    await submit(ana)
    assert await outbox(sql_backend, GROUP) == []
    assert await rows(sql_backend.sessions, m.ProposalReview) == []


async def test_hide_a_published_proposal(world, sql_backend):  # type: ignore[no-untyped-def]
    from storage.reports import lab_report, proposals_table, ratings_table

    engine, ana, boss = world
    await submit(ana, "Shorter queues")
    await submit(ana, "Juan at the desk is rude")
    assert "nothing to hide in PR-000001" in said(await boss.command("/hide PR-1 pending"))
    await boss.command("/publish PR-1")
    await boss.command("/publish PR-2")
    bruno = Person(engine, id=502, username="bruno", first_name="Bruno")
    await bruno.consent()
    await bruno.press("Proposals")
    await bruno.press("Juan at the desk")
    await bruno.press("4")
    assert "PR-000002 is hidden; its author has been told." in \
        said(await boss.command("/hide PR-2 names a person"))
    told = [r for r in await outbox(sql_backend, ana.id) if r["dedupe_key"].startswith("hidden:")]
    assert len(told) == 1 and "names a person" in told[0]["body"]
    assert "tu propuesta PR-000002" in told[0]["body"]  # Ana reads Spanish
    assert "already hidden" in said(await boss.command("/hide PR-2 again"))

    await bruno.command("/start")
    await bruno.press("Proposals")
    assert "Juan at the desk" not in " ".join(bruno.labels())
    assert "Shorter queues" in " ".join(bruno.labels())
    async with sql_backend.sessions() as session:
        _, proposals = await proposals_table(session, None, "en")
        _, ratings = await ratings_table(session, None, "en")
        report = await lab_report(session, "tu-atencion", "en", NOW)
    assert [row[0] for row in proposals] == ["PR-000001"]
    assert ratings == []
    [section] = [s for s in report if s.title == "Proposals"]
    assert [row[0] for row in section.rows] == ["PR-000001"]
    [rating] = await rows(sql_backend.sessions, m.ProposalRating)  # kept
    assert rating["score"] == 4
    [entry] = [e for e in await rows(sql_backend.sessions, m.AuditEntry)
               if e["action"] == "hide"]
    assert (entry["target"], entry["reason"]) == ("PR-000002", "names a person")
    # Bruno's "My participation" says what happened to what he rated.
    await bruno.command("/start")
    await bruno.press("My participation")
    assert "Juan at the desk is rude. Status: Hidden by a moderator" in bruno.shown


async def test_deleteme_removes_the_authors_post_from_the_group(world, sql_backend):  # type: ignore[no-untyped-def]
    _, ana, _ = world
    await submit(ana, "First")
    await submit(ana, "Second")
    first, second = sorted([r for r in await outbox(sql_backend, GROUP)
                            if r["dedupe_key"].endswith(":review")], key=lambda r: r["id"])
    await sent(sql_backend, first, 555)  # the second is still queued
    await ana.command("/deleteme")
    await ana.press("Borrar todo")
    rows_now = {r["id"]: r for r in await outbox(sql_backend)}
    assert rows_now[second["id"]]["status"] == "cancelled"
    assert rows_now[second["id"]]["body"] is None and rows_now[first["id"]]["body"] is None
    [delete] = [r for r in rows_now.values() if r["kind"] == "delete"]
    assert (delete["chat_id"], delete["target_message_id"]) == (GROUP, 555)
    assert await rows(sql_backend.sessions, m.ProposalReview) == []  # pending: gone


async def test_two_moderators_deciding_at_once_one_wins(sql_backend):  # type: ignore[no-untyped-def]
    await add_lab(sql_backend.sessions, services=())
    engine = engine_for(sql_backend, admin_ids=frozenset({BOSS, 901}), proposals_per_day=10)
    ana = Person(engine, language="es", username="ana")
    await ana.command("/start")
    await ana.press("Continuar")
    await ana.press("OK")
    for n in range(5):
        await submit(ana, f"Idea {n}")
    marta = Person(engine, id=BOSS, first_name="Marta")
    luis = Person(engine, id=901, first_name="Luis")
    for moderator in (marta, luis):
        await moderator.consent()
    for n in range(1, 6):
        published, rejected = await asyncio.gather(
            marta.command(f"/publish PR-{n}"), luis.command(f"/reject PR-{n} no"))
        outcomes = [said(published), said(rejected)]
        assert sum("not waiting for moderation" in o for o in outcomes) == 1, outcomes
    statuses = [p["status"] for p in await rows(sql_backend.sessions, m.Proposal)]
    news = [r for r in await outbox(sql_backend, ana.id)
            if r["dedupe_key"].startswith("proposal-status:")]
    decisions = [e for e in await rows(sql_backend.sessions, m.AuditEntry)
                 if e["action"] in ("publish", "reject")]
    assert len(news) == len(decisions) == 5 and set(statuses) <= {"published", "rejected"}
