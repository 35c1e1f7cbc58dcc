"""Roles in chat, the audit log, /hide, /block, group migration, the digest."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from conversations import roles
from conversations.digest import queue_opinion_digest
from conversations.i18n import available_languages
from conversations.settings import FlowSettings
from conversations.vocabulary import Chat, Event, Send, Who
from storage import models as m
from storage.sql import SqlUnitOfWork
from tests.harness import NOW, Person
from tests.moderation_helpers import (
    BOSS,
    GROUP,
    button,
    engine_for,
    in_group,
    outbox,
    sent,
)


def said(outcome) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(r.text for r in outcome.replies if isinstance(r, Send))


@pytest.fixture
async def world(sql_backend):  # type: ignore[no-untyped-def]
    await sql_backend.add_lab("tu-atencion", "Tu Atención", ["Phone line 012"])
    engine = engine_for(sql_backend)
    ana = Person(engine)
    await ana.consent()
    boss = Person(engine, id=BOSS, first_name="Marta", username="marta")
    await boss.consent()
    return engine, ana, boss


@pytest.mark.parametrize("name", sorted(roles.STAFF_COMMANDS))
async def test_every_staff_command_is_unknown_to_a_citizen(world, name):  # type: ignore[no-untyped-def]
    engine, ana, _ = world
    unknown = said(await ana.command("/nosuchthing"))
    assert said(await ana.command(f"/{name} 501 x")) == \
        unknown.replace("/nosuchthing", f"/{name}")
    in_the_group = in_group(engine, ana.id, "Ana")
    assert said(await in_the_group.command(f"/{name} 501 x")) == \
        f"I don't know the command /{name} here."


async def test_grant_and_revoke_change_the_role_the_audit_and_the_menu(world, sql_backend):  # type: ignore[no-untyped-def]
    _, ana, boss = world
    assert "is now moderator" in said(await boss.command(f"/grant moderator {ana.id}"))
    assert "/inbox" in said(await ana.command("/help"))
    [menu] = [r for r in await outbox(sql_backend, ana.id) if r["kind"] == "commands"]
    menus = json.loads(menu["body"])
    assert set(menus) == {"", *available_languages()}
    assert [c[0] for c in menus["en"]][:2] == ["start", "menu"]
    assert "inbox" in [c[0] for c in menus["es"]] and "grant" not in [c[0] for c in menus["es"]]
    assert "was already moderator" in said(await boss.command(f"/grant moderator {ana.id}"))

    assert "is no longer moderator" in said(await boss.command(f"/revoke moderator {ana.id}"))
    removed = [r for r in await outbox(sql_backend, ana.id) if r["kind"] == "commands"][-1]
    assert all(commands == [] for commands in json.loads(removed["body"]).values())
    assert "/inbox" not in said(await ana.command("/help"))

    audit = said(await boss.command("/audit"))
    assert f"Marta ({BOSS}) granted moderator → Ana ({ana.id})" in audit
    assert f"Marta ({BOSS}) revoked moderator → Ana ({ana.id})" in audit


async def test_grant_by_username_only_for_usernames_seen(world, sql_backend):  # type: ignore[no-untyped-def]
    _, _, boss = world
    assert "is now staff" in said(await boss.command("/grant staff @ANA"))
    unknown = said(await boss.command("/grant staff @nobody_here"))
    assert "Telegram does not let a bot look a person up by username" in unknown
    assert "is now" not in said(await boss.command("/grant pope 501"))
    assert "Use it like this: /grant ROLE ID" in said(await boss.command("/grant pope 501"))
    assert "accepted the privacy notice" in said(await boss.command("/grant staff 12345"))
    listing = said(await boss.command("/roles"))
    assert "Ana @ana (501): staff" in listing and f"({BOSS}): administrator" in listing


async def test_grant_by_replying_to_a_ticket_in_the_group(world, sql_backend):  # type: ignore[no-untyped-def]
    engine, ana, _ = world
    await ana.press("Ask or tell us something")
    await ana.text("I'd like to help")
    [post] = await outbox(sql_backend, GROUP)
    await sent(sql_backend, post, 90)
    reply = await in_group(engine).send(in_group(engine)._event(
        "command", text="/grant moderator", command="grant", args="moderator",
        reply_to_message_id=90))
    assert "Ana @ana (501) is now moderator" in said(reply)


async def test_the_audit_is_paginated(world):  # type: ignore[no-untyped-def]
    _, ana, boss = world
    for _ in range(6):
        await boss.command(f"/grant moderator {ana.id}")
        await boss.command(f"/revoke moderator {ana.id}")
    first = await boss.command("/audit")
    [page] = [r for r in first.replies if isinstance(r, Send)]
    assert page.text.count("→") == 10
    older = page.buttons[0][0]
    assert "Older" in older.label
    more = await boss.press_data(older.data)
    assert more.replies[1].text.count("→") == 2
    forged = await ana.press_data(older.data)  # a citizen pressing it: nothing shown
    assert forged.replies[0].text == "This button has expired."


async def test_hiding_a_comment_tells_its_author_in_their_language(world, sql_backend):  # type: ignore[no-untyped-def]
    engine, _, boss = world
    lucia = Person(engine, id=502, language="es", username="lucia")
    await lucia.command("/start")
    await lucia.press("Continuar")
    await lucia.press("OK")
    await lucia.press("Dar mi opinión")
    await lucia.press("Phone line 012")
    await lucia.press("2")
    await lucia.text("Juan, the clerk, is useless")
    await lucia.press("Enviar")
    assert "OP-000001 is hidden; its author has been told." in \
        said(await boss.command("/hide OP-1 names a person"))
    [told] = await outbox(sql_backend, lucia.id)
    assert "OP-000001" in told["body"] and "names a person" in told["body"]
    assert "comentario" in told["body"]  # Spanish, as Lucía uses the bot
    assert "already hidden" in said(await boss.command("/hide OP-1 again"))
    assert "nothing to hide" in said(await boss.command("/hide OP-99 why"))
    assert "Use it like this: /hide OP-123" in said(await boss.command("/hide OP-1"))
    assert f"Marta ({BOSS}) hid OP-000001 → Ana ({lucia.id}) — names a person" in \
        said(await boss.command("/audit"))


async def test_a_blocked_citizen_is_kept_not_relayed_and_told_once(world, sql_backend):  # type: ignore[no-untyped-def]
    _, ana, boss = world
    assert "is blocked" in said(await boss.command(f"/block {ana.id} insults"))
    await ana.press("Ask or tell us something")
    first = await ana.text("You are all useless")
    assert "not taking new messages from you" in said(first)
    await ana.press("Ask or tell us something")
    second = await ana.text("Again")
    assert "not taking new messages" not in said(second)
    assert await outbox(sql_backend, GROUP) == []  # kept, not relayed
    async with sql_backend.sessions() as session:
        kept = (await session.execute(select(m.TicketMessage.text))).scalars().all()
    assert kept == ["You are all useless", "Again"]
    assert "is unblocked" in said(await boss.command(f"/unblock {ana.id}"))
    await ana.press("Ask or tell us something")
    await ana.text("Sorry, I was angry")
    assert len(await outbox(sql_backend, GROUP)) == 1
    audit = said(await boss.command("/audit"))
    assert "blocked citizen:" in audit and "insults" in audit and "unblocked" in audit


async def test_the_moderators_group_is_followed_to_its_supergroup(world, sql_backend):  # type: ignore[no-untyped-def]
    engine, ana, _ = world
    new_id = -1009999
    moved = Event(update_id=77_001, chat=Chat(GROUP, "group"), user=Who(BOSS),
                  kind="migrated", migrate_to_chat_id=new_id)
    assert (await engine.handle(moved)).replies == []
    async with sql_backend.sessions() as session:
        [migration] = (await session.execute(select(m.ChatMigration))).scalars().all()
    assert (migration.old_chat_id, migration.new_chat_id) == (GROUP, new_id)
    # The new supergroup is the moderators' group: not left, commands work there.
    marta = Person(engine, id=BOSS, first_name="Marta", chat=Chat(new_id, "supergroup"))
    assert "No open tickets" in said(await marta.command("/inbox"))
    await ana.press("Ask or tell us something")
    await ana.text("Hello?")
    [post] = await outbox(sql_backend, new_id)
    assert "T-000001" in post["body"]


async def test_the_daily_digest_is_queued_once_a_day(world, sql_backend):  # type: ignore[no-untyped-def]
    _, ana, _ = world
    await ana.press("Give my opinion")
    await ana.press("Phone line 012")
    await ana.press("5")
    await ana.text("Quick and kind")
    await ana.press("Send")
    settings = FlowSettings(moderators_chat_id=GROUP, default_language="en")
    tomorrow = NOW + timedelta(days=1)
    for when, expected in ((NOW, False), (tomorrow, True), (tomorrow, False)):
        async with SqlUnitOfWork(sql_backend.sessions) as uow:
            assert await queue_opinion_digest(uow, settings, when) is expected
            await uow.commit()
    [digest] = await outbox(sql_backend, GROUP)
    assert "1 opinion on 24 November 2026" in digest["body"]
    assert "OP-000001 · ★★★★★ · Phone line 012" in digest["body"]


async def test_an_opinion_with_i_would_like_an_answer_opens_a_ticket(world, sql_backend):  # type: ignore[no-untyped-def]
    _, ana, _ = world
    await ana.press("Give my opinion")
    await ana.press("Phone line 012")
    await ana.press("1")
    await ana.media("voice", "VOICE-1", message_id=33)
    await ana.press("I'd like an answer")
    assert "☑️ I'd like an answer" in ana.labels()
    await ana.press("Send")
    assert "T-000001" in ana.shown
    post, copy = await outbox(sql_backend, GROUP)
    assert "About their opinion OP-000001" in post["body"]
    assert (copy["kind"], copy["copy_from_chat_id"], copy["copy_message_id"]) == \
        ("copy", ana.id, 33)
    # Not in tomorrow's digest: it asked for an answer.
    async with SqlUnitOfWork(sql_backend.sessions) as uow:
        assert not await queue_opinion_digest(
            uow, FlowSettings(moderators_chat_id=GROUP), NOW + timedelta(days=1))
    assert button(post, "take")


async def test_a_hidden_comment_leaves_the_report_and_the_export(world, sql_backend):  # type: ignore[no-untyped-def]
    from storage.reports import lab_report, opinions_table

    _, ana, boss = world
    for comment in ("Fine", "The clerk Juan is useless"):
        await ana.press("Give my opinion")
        await ana.press("Phone line 012")
        await ana.press("3")
        await ana.text(comment)
        await ana.press("Send")
        await ana.press("Main menu")
    await boss.command("/hide OP-2 names a person")
    async with sql_backend.sessions() as session:
        _, rows = await opinions_table(session, None, "en")
        report = await lab_report(session, "tu-atencion", "en", NOW)
    assert [(r[0], r[5], r[6]) for r in rows] == [("OP-000001", 3, "Fine"),
                                                   ("OP-000002", 3, None)]
    [comments] = [section for section in report if section.title == "Comments"]
    assert [row[-1] for row in comments.rows] == ["Fine"]


async def test_at_start_staff_menus_are_queued_once_per_content(world, sql_backend):  # type: ignore[no-untyped-def]
    from conversations.flows.staff import refresh_menus

    _, ana, boss = world
    await boss.command(f"/grant moderator {ana.id}")
    for expected in (2, 0):  # ana and the bootstrap admin; nothing new after a restart
        async with SqlUnitOfWork(sql_backend.sessions) as uow:
            assert await refresh_menus(uow, frozenset({BOSS}), "es", NOW) == expected
            await uow.commit()
    keyed = [r for r in await outbox(sql_backend) if (r["dedupe_key"] or "").startswith("menu:")]
    admin_menu = json.loads(next(r["body"] for r in keyed if r["chat_id"] == BOSS))
    assert "grant" in [c[0] for c in admin_menu["es"]]


async def test_block_by_replying_to_a_ticket_with_a_reason(world, sql_backend):  # type: ignore[no-untyped-def]
    engine, ana, _ = world
    await ana.press("Ask or tell us something")
    await ana.text("Insults")
    [post] = await outbox(sql_backend, GROUP)
    await sent(sql_backend, post, 91)
    marta = in_group(engine)
    blocked = await marta.send(marta._event("command", text="/block repeated insults",
                                            command="block", args="repeated insults",
                                            reply_to_message_id=91))
    assert "Ana @ana (501) is blocked" in said(blocked)
    assert "blocked citizen:1 → Ana (501) — repeated insults" in \
        said(await marta.command("/audit"))
    assert "Whom do you mean?" in said(await marta.command("/unblock"))
