"""Moderation over HTTP, on both frameworks, polling and webhook: a ticket's
round trip through the moderators' group, per-chat command menus on grant
and revoke, and the group becoming a supergroup."""

# The fixtures of tests/test_e2e.py are imported and used as parameters, which
# ruff reads as redefinitions.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from storage import models as m
from tests.e2e import Citizen, settle
from tests.fake_bot_api import FakeBotAPI
from tests.test_e2e import (  # noqa: F401  (fixtures reused as they are)
    RunningBot,
    ana,
    bot_settings,
    database,
    framework,
    mode,
    rows,
)

GROUP, BOSS = -1001234, 9001


@pytest.fixture
async def moderated(fake, database, mode, framework) -> AsyncIterator[RunningBot]:  # type: ignore[no-untyped-def]
    """The bot with a moderators' group and a bootstrap admin."""
    settings = bot_settings(fake.base_url, database, mode, None, framework).model_copy(
        update={"moderators_chat_id": GROUP, "admin_ids": [BOSS]})
    running = RunningBot(settings, fake, mode)
    await running.start()
    try:
        yield running
    finally:
        if running.task is not None and not running.task.done():
            await running.stop()


async def until(read, holds, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]  # noqa: ASYNC109
    """Poll the database until ``holds(await read())`` (what another task writes)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not holds(await read()):
        assert loop.time() < deadline, "condition not met in the database"
        await asyncio.sleep(0.05)


def with_text(fake: FakeBotAPI, chat_id: int, fragment: str):  # type: ignore[no-untyped-def]
    found = [msg for msg in fake.messages(chat_id) if fragment in (msg.plain_text or "")]
    assert found, f"no message with {fragment!r} in {chat_id}"
    return found[-1]


async def test_a_ticket_round_trip_through_the_moderators_group(moderated, fake, ana, rows):  # type: ignore[no-untyped-def]
    group = fake.group(GROUP, title="Moderación")
    marta = fake.user(id=BOSS, first_name="Marta", username="marta", language_code="es")
    await ana.consent()
    await ana.press("Ask or tell us something")
    await ana.text("Is the <office> open on Saturday?")
    assert "T-000001" in ana.messages()[-1].plain_text

    # The group gets it through the outbox, with its buttons.
    await fake.wait_for(lambda: with_text(fake, GROUP, "T-000001"), 10)
    post = with_text(fake, GROUP, "T-000001")
    assert "Is the <office> open on Saturday?" in post.plain_text
    assert post.button_texts == ["🙋 Lo cojo yo", "✅ Cerrar"]
    # The sender records the post's message id right after sending it.
    await until(lambda: rows.all(m.Ticket), lambda t: t[0]["group_message_id"] is not None)

    # A moderator answers by replying to it: the citizen gets it from the team.
    await settle(fake, await marta.send_text("Yes, from 9 to 2", chat=group,
                                             reply_to=post.message_id))
    await fake.wait_for(lambda: with_text(fake, ana.id, "Answer from the team"), 10)
    answer = with_text(fake, ana.id, "Answer from the team")
    assert "Yes, from 9 to 2" in answer.plain_text
    assert answer.button_texts == ["↩️ Reply", "✅ Solved, thanks"]

    # The citizen replies: it goes back into the same ticket, in the group.
    await ana.press("Reply", answer)
    await ana.text("Thank you!")
    await fake.wait_for(lambda: with_text(fake, GROUP, "Thank you!"), 10)
    [ticket] = await rows.all(m.Ticket)
    assert ticket["status"] == "assigned" and ticket["assignee_name"] == "Marta"
    assert [t["direction"] for t in await rows.all(m.TicketMessage)] == ["in", "out", "in"]

    # Closing from the group asks the citizen once how satisfied they were.
    await settle(fake, await marta.press(post, "✅ Cerrar"))
    assert "Cerrado" in post.plain_text and post.buttons == []
    await fake.wait_for(lambda: with_text(fake, ana.id, "Were you satisfied"), 10)
    survey = with_text(fake, ana.id, "Were you satisfied")
    await ana.press("4", survey)
    assert "Thank you for telling us (4 of 5)." in survey.plain_text
    [ticket] = await rows.all(m.Ticket)
    assert (ticket["status"], ticket["satisfaction"]) == ("closed", 4)
    fake.assert_all_callbacks_answered()


async def test_grant_and_revoke_set_that_persons_command_menu(moderated, fake, ana):  # type: ignore[no-untyped-def]
    boss = Citizen(fake, fake.user(id=BOSS, first_name="Marta", language_code="es"))
    await ana.consent()
    await boss.command("/grant", f"moderator {ana.id}")
    assert "ahora es moderador" in boss.messages()[-1].plain_text

    def menu(language: str) -> list[str]:
        return [c["command"] for c in fake.commands.get(("chat", ana.id, language), [])]

    await fake.wait_for(lambda: "inbox" in menu("en") and "inbox" in menu(""), 10)
    assert menu("en")[:3] == ["start", "menu", "help"] and "grant" not in menu("en")
    default = [c["command"] for c in fake.commands[("default", None, "en")]]
    assert "inbox" not in default  # nobody else sees it

    await boss.command("/revoke", f"moderator {ana.id}")
    await fake.wait_for(lambda: not menu("en") and not menu(""), 10)


async def test_the_bot_follows_the_group_to_its_supergroup(moderated, fake, ana, rows):  # type: ignore[no-untyped-def]
    marta = fake.user(id=BOSS, first_name="Marta")
    configured = fake.group(GROUP, title="Moderación", type="group")
    new = await configured.migrate(-1005678, by=marta)  # both service messages arrive
    await until(lambda: rows.all(m.ChatMigration), lambda found: len(found) == 1)
    [migration] = await rows.all(m.ChatMigration)
    assert (migration["old_chat_id"], migration["new_chat_id"]) == (GROUP, new.id)
    assert new.id not in fake.left_chats  # the new supergroup is not left
    await ana.consent()
    await ana.press("Ask or tell us something")
    await ana.text("Hello?")
    await fake.wait_for(lambda: with_text(fake, new.id, "T-000001"), 10)
    # Commands work in the new supergroup.
    await settle(fake, await marta.send_command("/inbox", chat=new))
    await fake.wait_for(lambda: with_text(fake, new.id, "1 ticket abierto"), 10)


@pytest.fixture
async def forum_bot(fake, database, mode, framework) -> AsyncIterator[RunningBot]:  # type: ignore[no-untyped-def]
    settings = bot_settings(fake.base_url, database, mode, None, framework).model_copy(
        update={"moderators_chat_id": GROUP, "admin_ids": [BOSS], "moderators_topics": True})
    running = RunningBot(settings, fake, mode)
    await running.start()
    try:
        yield running
    finally:
        if running.task is not None and not running.task.done():
            await running.stop()


async def test_a_forum_gets_a_topic_per_ticket_and_erasure_deletes_it(forum_bot, fake, ana,  # type: ignore[no-untyped-def]
                                                                      rows):
    group = fake.group(GROUP, title="Moderación", is_forum=True)
    marta = fake.user(id=BOSS, first_name="Marta", language_code="es")
    await ana.consent()
    await ana.press("Ask or tell us something")
    await ana.handled(lambda: ana.user.send_voice())
    await fake.wait_for(lambda: len(group.state.topics) == 1, 10)
    [(topic, name)] = group.state.topics.items()
    assert name.startswith("T-000001")
    await fake.wait_for(lambda: len(fake.messages(GROUP)) == 2, 10)
    post, voice = fake.messages(GROUP)
    assert post.message_thread_id == topic and voice.message_thread_id == topic
    assert voice.kind == "copy"  # copied, not uploaded again

    # Writing in the topic answers the ticket.
    await until(lambda: rows.all(m.Ticket), lambda t: t[0]["topic_id"] == topic)
    await settle(fake, await marta.send_text("We are on it", chat=group, thread_id=topic))
    await fake.wait_for(lambda: with_text(fake, ana.id, "We are on it"), 10)

    await ana.command("/deleteme")
    await ana.press("Delete everything")
    await fake.wait_for(lambda: topic not in group.state.topics, 10)  # the whole topic goes
