"""What the engine does outside the journeys: groups, floods, blocking, bugs."""

from __future__ import annotations

import subprocess
import sys

from conversations.engine import Engine
from conversations.settings import FlowSettings
from conversations.vocabulary import Answer, Chat, Event, Leave, Send, Who
from storage.limits import LocalThrottle
from tests.harness import NOW, Person, make_engine


def group_event(kind: str = "text", chat_id: int = -100500, **fields) -> Event:  # type: ignore[no-untyped-def]
    return Event(update_id=None, chat=Chat(chat_id, "supergroup", title="Neighbours"),
                 user=Who(7, "pepe", "en"), kind=kind, **fields)  # type: ignore[arg-type]


async def test_in_other_groups_the_bot_says_one_line_and_leaves(backend):  # type: ignore[no-untyped-def]
    engine = make_engine(backend)
    added = await engine.handle(group_event("member", member_status="member"))
    assert isinstance(added.replies[0], Send) and "only talk in private chats" in \
        added.replies[0].text
    assert isinstance(added.replies[-1], Leave)
    pressed = await engine.handle(group_event("button", data="menu:go:op@1", callback_id="q"))
    assert isinstance(pressed.replies[0], Answer) and isinstance(pressed.replies[-1], Leave)
    left = await engine.handle(group_event("member", member_status="left"))
    assert left.replies == []
    assert await backend.count("citizens") == 0


async def test_the_moderators_group_is_not_left(sql_backend):  # type: ignore[no-untyped-def]
    # The group's own handling (tickets, staff commands) is SQL-only.
    engine = make_engine(sql_backend, moderators_chat_id=-100500)
    assert (await engine.handle(group_event("text", text="hi"))).replies == []
    pressed = await engine.handle(group_event("button", data="x", callback_id="q"))
    assert pressed.replies == [Answer("This button has expired.")]


async def test_a_flooding_citizen_is_told_once_to_slow_down(backend):  # type: ignore[no-untyped-def]
    engine = Engine(uow=backend.uow, settings=FlowSettings(), clock=lambda: NOW,
                    throttle=LocalThrottle(per_minute=5, clock=lambda: 100.0))
    ana = Person(engine)
    outcomes = [await ana.text(f"message {n}") for n in range(8)]
    warnings = [o for o in outcomes if any("very fast" in getattr(r, "text", "")
                                           for r in o.replies)]
    assert len(warnings) == 1 and outcomes[5] is warnings[0]
    assert outcomes[6].replies == [] and outcomes[7].replies == []
    pressed = await ana.press_data("menu:go:op@1")
    assert len(pressed.replies) == 1 and "very fast" in pressed.replies[0].text


async def test_blocking_and_unblocking_the_bot_is_recorded(backend):  # type: ignore[no-untyped-def]
    ana = Person(make_engine(backend))
    await ana.consent()
    await ana.send(ana._event("member", member_status="kicked"))
    assert (await backend.citizen(ana.id))["blocked_bot"] is True
    await ana.send(ana._event("member", member_status="member"))
    assert (await backend.citizen(ana.id))["blocked_bot"] is False


def test_conversations_import_no_messenger_framework():  # type: ignore[no-untyped-def]
    code = ("import sys, pkgutil, importlib, conversations, conversations.flows\n"
            "for m in pkgutil.walk_packages(conversations.__path__, 'conversations.'):\n"
            "    importlib.import_module(m.name)\n"
            "bad = sorted(n for n in sys.modules if n.split('.')[0] in "
            "('aiogram', 'telegram'))\n"
            "print(bad); sys.exit(1 if bad else 0)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
