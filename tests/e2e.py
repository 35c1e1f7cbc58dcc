"""Helpers for the end-to-end tests: a migrated database with the demo lab, the
bot's settings, free ports, and a citizen who waits for the bot like a person.

``settle`` is the barrier every step uses: in polling mode an update counts
as handled once the bot confirmed it (its next getUpdates moved past it); in
webhook mode once the bot answered the POST with 200.
"""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from storage import migrate
from storage import models as m
from storage.database import create_engine, session_factory
from storage.importer import import_demo
from tests.fake_bot_api import FakeBotAPI, Sent, SentMessage, SimUser

# BotFather's shape: digits, a colon, 20+ letters (the settings check it).
TOKEN = "123456789:AAE2eTestTokenForTheFakeBotApi_x"
SECRET = "e2e-webhook-secret_42"


def listening_ports() -> range:
    """Ports for the servers tests start: below the kernel's ephemeral range.

    A port the kernel hands out (bind to 0) is free only until the next
    outgoing connection: every client socket (PostgreSQL, Redis, HTTP) takes
    one from that same range, and one took a test's webhook port in CI
    ("address already in use"). Below the range, only another listener can.
    """
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return range(10_000, max(low, 10_001))


def free_port() -> int:
    """A port nothing listens on now, outside the ephemeral range."""
    return consecutive_free_ports(1)


def consecutive_free_ports(count: int) -> int:
    """The first of ``count`` consecutive free ports (see :func:`listening_ports`)."""
    ports = listening_ports()
    for _ in range(500):
        base = random.randrange(ports.start, ports.stop - count)
        sockets = []
        try:
            for port in range(base, base + count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no free port range")


def sqlite_file_url(folder: Path) -> str:
    return f"sqlite+aiosqlite:///{folder / 'participa.db'}"


async def prepare_database(url: str) -> None:
    """What an operator does before `participa run`: db upgrade, import --demo."""
    await asyncio.to_thread(migrate.upgrade, url)
    db = create_engine(url)
    try:
        await import_demo(session_factory(db), datetime.now(UTC))
    finally:
        await db.dispose()


class Rows:
    """Read what the bot stored, through a separate engine (as staff would)."""

    def __init__(self, url: str) -> None:
        self.db = create_engine(url)
        self.sessions = session_factory(self.db)

    async def all(self, model: Any) -> list[dict[str, Any]]:
        async with self.sessions() as session:
            found = (await session.execute(
                select(model).order_by(*model.__table__.primary_key))).scalars().all()
            return [{c.key: getattr(r, c.key) for c in model.__table__.columns} for r in found]

    async def count(self, model: Any) -> int:
        async with self.sessions() as session:
            return (await session.execute(select(func.count()).select_from(model))).scalar_one()

    async def opinions(self) -> list[dict[str, Any]]:
        return await self.all(m.Opinion)

    async def citizen(self, telegram_id: int) -> dict[str, Any] | None:
        return next((c for c in await self.all(m.Citizen) if c["telegram_id"] == telegram_id),
                    None)

    async def state(self, user_id: int) -> dict[str, Any] | None:
        return next((s for s in await self.all(m.ConversationState) if s["user_id"] == user_id),
                    None)

    async def seen(self, update_id: int) -> bool:
        return any(u["update_id"] == update_id for u in await self.all(m.ProcessedUpdate))

    async def close(self) -> None:
        await self.db.dispose()


async def settle(fake: FakeBotAPI, sent: Sent, *, times: int = 1, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """Wait until the bot has handled ``sent`` (``times`` deliveries of it)."""
    if sent.mode == "webhook":
        assert sent.status == 200, f"webhook answered {sent.status} ({sent.error})"
        return
    update_id = sent.update_id
    try:
        await fake.wait_for(lambda: fake.confirmed_update_ids.count(update_id) >= times,
                            timeout)
    except AssertionError:
        raise AssertionError(f"update {update_id} not confirmed within {timeout} s; "
                             f"pending: {[u['update_id'] for u in fake.pending_updates()]}"
                             ) from None


def label(message: SentMessage, fragment: str) -> str:
    """The exact label of the button whose label contains ``fragment``."""
    found = [text for text in message.button_texts if fragment in text]
    assert found, f"no button like {fragment!r} in {message.button_texts}"
    return found[0]


class Citizen:
    """A person in a private chat who waits for the bot after every action."""

    def __init__(self, fake: FakeBotAPI, user: SimUser) -> None:
        self.fake = fake
        self.user = user

    @property
    def id(self) -> int:
        return self.user.id

    def messages(self) -> list[SentMessage]:
        return self.fake.messages(self.id)

    @property
    def screen(self) -> SentMessage:
        """The bot's newest message with buttons: what the citizen acts on."""
        with_buttons = [msg for msg in self.messages() if msg.buttons]
        assert with_buttons, f"no message with buttons: {[m.plain_text for m in self.messages()]}"
        return with_buttons[-1]

    async def handled(self, action: Callable[[], Any]) -> Sent:
        sent = await action()
        await settle(self.fake, sent)
        return sent

    async def command(self, command: str, args: str | None = None) -> Sent:
        return await self.handled(lambda: self.user.send_command(command, args))

    async def text(self, text: str) -> Sent:
        return await self.handled(lambda: self.user.send_text(text))

    async def press(self, fragment: str, message: SentMessage | None = None) -> Sent:
        target = message or self.screen
        return await self.handled(lambda: self.user.press(target, label(target, fragment)))

    async def consent(self) -> None:
        await self.command("/start")
        await self.press("Continue")
        await self.press("OK")
        assert "What would you like to do?" in (self.screen.plain_text or "")

    async def to_summary(self, comment: str = "Fine") -> None:
        """From the main menu to the summary of an opinion (rating 4, a comment)."""
        await self.press("Give my opinion")
        await self.press("E-government website")
        await self.press("4")
        await self.text(comment)
        assert "Your opinion" in (self.screen.plain_text or "")

    def answer_to(self, sent: Sent) -> dict[str, Any]:
        return self.fake.callback_answers[sent.update["callback_query"]["id"]]
