"""Random and hostile updates through the bot: nothing escapes, every press
is answered exactly once.

Hypothesis writes sequences of raw Telegram updates (the JSON Telegram
POSTs): random and very long texts, HTML injection, stickers, documents and
other media, known and unknown commands, presses of the buttons shown,
forged and stale callback data, edited messages, messages from a group the
bot is not meant to be in, the person blocking the bot (my_chat_member
"kicked"), and the same update delivered again. Each is parsed by the
transport as in production and handled by the engine on SQLite.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.aiogram_transport import AiogramTransport
from conversations.engine import Engine
from conversations.settings import FlowSettings
from conversations.vocabulary import Answer, Edit, Send
from storage.database import create_engine, session_factory
from storage.models import Base
from tests.e2e import TOKEN
from tests.harness import NOW, SqlBackend

USER = {"id": 4242, "is_bot": False, "first_name": "Fuzz", "language_code": "en"}
BOT = {"id": 1, "is_bot": True, "first_name": "Participa"}
PRIVATE = {"id": 4242, "type": "private", "first_name": "Fuzz"}
GROUP = {"id": -100777, "type": "supergroup", "title": "Somewhere"}

HOSTILE_TEXTS = [
    "x" * 10_000,
    "<b>bold</b> <i>unclosed & <script>alert(1)</script>",
    "</i></b><a href='javascript:alert(1)'>link</a>",
    "&amp; &lt; &#0; \u0000 \u202e reversed",
    "{count} {0} %s %(name)s {{}}",
    "🙂" * 3000,
    "   ",
    "/",
    "op:1:x:" * 20,
]
COMMANDS = ["/start", "/menu", "/help", "/cancel", "/mydata", "/deleteme", "/language",
            "/privacy", "/frobnicate", "/start@participa_bot", "/START", "/opinion"]
MEDIA = {
    "sticker": {"file_id": "S", "file_unique_id": "s", "type": "regular", "width": 1,
                "height": 1, "is_animated": False, "is_video": False},
    "document": {"file_id": "D", "file_unique_id": "d", "file_name": "<evil>.pdf"},
    "photo": [{"file_id": "P", "file_unique_id": "p", "width": 1, "height": 1}],
    "voice": {"file_id": "V", "file_unique_id": "v", "duration": 3},
    "location": {"latitude": 40.4, "longitude": -3.7},
    "contact": {"phone_number": "+34600000000", "first_name": "Someone"},
}

actions = st.one_of(
    st.tuples(st.just("text"), st.text(max_size=300)),
    st.tuples(st.just("text"), st.sampled_from(HOSTILE_TEXTS)),
    st.tuples(st.just("command"), st.sampled_from(COMMANDS), st.text(max_size=30)),
    st.tuples(st.just("media"), st.sampled_from(sorted(MEDIA))),
    st.tuples(st.just("press"), st.integers(0, 30)),
    st.tuples(st.just("press"), st.integers(0, 30)),
    st.tuples(st.just("press"), st.integers(0, 30)),
    st.tuples(st.just("forged"), st.text(min_size=1, max_size=64)),
    st.tuples(st.just("stale"), st.integers(0, 1000)),
    st.tuples(st.just("edited"), st.text(max_size=50)),
    st.tuples(st.just("group"), st.text(max_size=50)),
    st.tuples(st.just("kicked"), st.none()),
    st.tuples(st.just("again"), st.none()),
)


class Telegram:
    """Builds raw updates as Telegram sends them, and remembers the buttons shown."""

    def __init__(self) -> None:
        self.update_id = 1000
        self.message_id = 1
        self.shown: list[str] = []  # callback data of the buttons on screen
        self.seen: list[str] = []  # every callback data ever shown
        self.last: dict[str, Any] | None = None

    def _next(self, body: dict[str, Any]) -> dict[str, Any]:
        self.update_id += 1
        self.message_id += 1
        self.last = {"update_id": self.update_id, **body}
        return self.last

    def _message(self, chat: dict[str, Any], **content: Any) -> dict[str, Any]:
        return {"message_id": self.message_id, "date": 1_700_000_000, "chat": chat,
                "from": USER, **content}

    def update(self, action: tuple[str, Any, ...]) -> dict[str, Any] | None:  # type: ignore[misc]
        kind, value = action[0], action[1]
        if kind == "text":
            return self._next({"message": self._message(PRIVATE, text=value or ".")})
        if kind == "command":
            text = f"{value} {action[2]}".rstrip()
            entity = {"type": "bot_command", "offset": 0, "length": len(value)}
            return self._next({"message": self._message(PRIVATE, text=text, entities=[entity])})
        if kind == "media":
            return self._next({"message": self._message(PRIVATE, **{value: MEDIA[value]})})
        if kind in ("press", "forged", "stale"):
            if kind == "press":
                if not self.shown:
                    return None
                data = self.shown[value % len(self.shown)]
            elif kind == "stale":
                if not self.seen:
                    return None
                data = self.seen[value % len(self.seen)]
            else:
                data = value
            return self._next({"callback_query": {
                "id": f"q{self.update_id}", "from": USER, "chat_instance": "ci", "data": data,
                "message": {"message_id": 1, "date": 1_700_000_000, "chat": PRIVATE,
                            "text": "screen"}}})
        if kind == "edited":
            return self._next({"edited_message": {**self._message(PRIVATE, text=value or "."),
                                                  "edit_date": 1_700_000_100}})
        if kind == "group":
            return self._next({"message": self._message(GROUP, text=value or "hola")})
        if kind == "kicked":
            return self._next({"my_chat_member": {
                "chat": PRIVATE, "from": USER, "date": 1_700_000_000,
                "old_chat_member": {"status": "member", "user": BOT},
                "new_chat_member": {"status": "kicked", "user": BOT, "until_date": 0}}})
        return self.last  # "again": the same update delivered a second time

    def saw(self, replies: list[Any]) -> None:
        for reply in replies:
            if isinstance(reply, Send | Edit) and reply.buttons:
                self.shown = [b.data for row in reply.buttons for b in row]
                self.seen.extend(self.shown)


async def play(sequence: list[tuple[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        db = create_engine(f"sqlite+aiosqlite:///{Path(folder) / 'fuzz.db'}")
        async with db.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        backend = SqlBackend(session_factory(db), "sqlite")
        await backend.add_lab("tu-atencion", "Tu Atención", ["Phone line 012"])
        engine = Engine(uow=backend.uow, settings=FlowSettings(), clock=lambda: NOW)
        transport = AiogramTransport(TOKEN, "http://127.0.0.1:9")
        telegram = Telegram()
        try:
            for action in sequence:
                raw = telegram.update(action)
                if raw is None:
                    continue
                event = transport.to_event(transport.parse_update(raw))
                if event is None:
                    continue
                outcome = await engine.handle(event)  # nothing may escape
                answers = [r for r in outcome.replies if isinstance(r, Answer)]
                if event.kind == "button":
                    assert len(answers) == 1, (action, outcome)
                else:
                    assert answers == [], (action, outcome)
                telegram.saw(outcome.replies)
        finally:
            await transport.close()
            await db.dispose()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(actions, min_size=1, max_size=30))
def test_random_and_hostile_updates_are_all_handled(sequence):  # type: ignore[no-untyped-def]
    asyncio.run(play(sequence))


def test_a_citizen_pressing_through_every_screen_is_always_answered():  # type: ignore[no-untyped-def]
    """Not random: /start, then always the first button, then always the last."""
    asyncio.run(play([("command", "/start", "")] + [("press", 0)] * 25
                     + [("command", "/menu", "")] + [("press", 30)] * 25))
