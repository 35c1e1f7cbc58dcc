"""Drive the engine like a person would, with no network.

A :class:`Person` sends text, commands, media and button presses (by label)
and keeps what the bot showed last; :class:`Backend` seeds labs and reads
back what was stored, on the in-memory fake or a real database.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, select

from conversations.engine import Engine
from conversations.settings import FlowSettings
from conversations.vocabulary import (
    Answer,
    Chat,
    Edit,
    Event,
    Media,
    Outcome,
    Send,
    Who,
)
from storage import models as m
from storage.memory import MemoryStore, MemoryUnitOfWork
from storage.sql import SqlUnitOfWork

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
_update_ids = itertools.count(1_000)


class Backend(Protocol):
    name: str

    def uow(self): ...  # type: ignore[no-untyped-def]

    async def add_lab(self, slug: str, title: str, services: list[str], *,
                      opens: datetime = NOW - timedelta(days=30),
                      closes: datetime | None = None) -> None: ...
    async def opinions(self) -> list[dict[str, Any]]: ...
    async def citizen(self, telegram_id: int) -> dict[str, Any] | None: ...
    async def consents(self) -> list[dict[str, Any]]: ...
    async def count(self, table: str) -> int: ...


class MemoryBackend:
    name = "memory"

    def __init__(self) -> None:
        self.store = MemoryStore()

    def uow(self):  # type: ignore[no-untyped-def]
        return MemoryUnitOfWork(self.store)

    async def add_lab(self, slug, title, services, *, opens=NOW - timedelta(days=30),  # type: ignore[no-untyped-def]
                      closes=None):
        lab = self.store.add_lab(slug, {"es": title, "en": title}, opens)
        self.store.phases[-1].closes_at = closes
        for service in services:
            self.store.add_service(lab, service.lower().replace(" ", "-"),
                                   {"es": service, "en": service})

    async def opinions(self):  # type: ignore[no-untyped-def]
        return [dict(id=i, **vars_of(o)) for i, o in self.store.opinions.items()]

    async def citizen(self, telegram_id):  # type: ignore[no-untyped-def]
        found = self.store.citizens.get(telegram_id)
        return vars_of(found) if found else None

    async def consents(self):  # type: ignore[no-untyped-def]
        return list(self.store.consents)

    async def count(self, table):  # type: ignore[no-untyped-def]
        return {"citizens": len(self.store.citizens), "opinions": len(self.store.opinions),
                "consents": len(self.store.consents)}[table]


def vars_of(record: Any) -> dict[str, Any]:
    return {name: getattr(record, name) for name in record.__slots__}


class SqlBackend:
    def __init__(self, sessions, name: str) -> None:  # type: ignore[no-untyped-def]
        self.sessions = sessions
        self.name = name

    def uow(self):  # type: ignore[no-untyped-def]
        return SqlUnitOfWork(self.sessions)

    async def add_lab(self, slug, title, services, *, opens=NOW - timedelta(days=30),  # type: ignore[no-untyped-def]
                      closes=None):
        async with self.sessions() as session:
            lab = m.Lab(slug=slug, title={"es": title, "en": title}, description={},
                        created_at=NOW)
            session.add(lab)
            await session.flush()
            session.add(m.LabPhase(lab_id=lab.id, phase="opinions", opens_at=opens,
                                   closes_at=closes))
            for position, service in enumerate(services):
                session.add(m.Service(lab_id=lab.id, slug=service.lower().replace(" ", "-"),
                                      title={"es": service, "en": service}, description={},
                                      position=position))
            await session.commit()

    async def _rows(self, model) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
        async with self.sessions() as session:
            rows = (await session.execute(select(model).order_by(*model.__table__.primary_key)
                                          )).scalars().all()
            return [{c.key: getattr(r, c.key) for c in model.__table__.columns} for r in rows]

    async def opinions(self):  # type: ignore[no-untyped-def]
        return await self._rows(m.Opinion)

    async def citizen(self, telegram_id):  # type: ignore[no-untyped-def]
        return next((c for c in await self._rows(m.Citizen)
                     if c["telegram_id"] == telegram_id), None)

    async def consents(self):  # type: ignore[no-untyped-def]
        return await self._rows(m.Consent)

    async def count(self, table):  # type: ignore[no-untyped-def]
        model = {"citizens": m.Citizen, "opinions": m.Opinion, "consents": m.Consent,
                 "notification_preferences": m.NotificationPreferences,
                 "processed_updates": m.ProcessedUpdate}[table]
        async with self.sessions() as session:
            return (await session.execute(select(func.count()).select_from(model))).scalar_one()


def make_engine(backend: Backend, *, clock=lambda: NOW, **settings: Any) -> Engine:  # type: ignore[no-untyped-def]
    return Engine(uow=backend.uow, settings=FlowSettings(**settings), clock=clock)


@dataclass
class Person:
    """A citizen in a private chat with the bot."""

    engine: Engine
    id: int = 501
    language: str | None = "en"
    username: str | None = "ana"
    first_name: str = "Ana"
    chat: Chat | None = None
    screen: Send | Edit | None = None
    screen_message_id: int = 0
    history: list[Outcome] = field(default_factory=list)
    _message_ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def _event(self, kind: str, **fields: Any) -> Event:
        fields.setdefault("update_id", next(_update_ids))
        return Event(chat=self.chat or Chat(self.id), kind=kind,  # type: ignore[arg-type]
                     user=Who(self.id, self.username, self.language, self.first_name), **fields)

    async def send(self, event: Event) -> Outcome:
        outcome = await self.engine.handle(event)
        answers = [r for r in outcome.replies if isinstance(r, Answer)]
        if event.kind == "button":
            assert len(answers) == 1, f"a button press needs exactly one answer: {outcome}"
        else:
            assert not answers, "only button presses are answered"
        self.see(outcome)
        return outcome

    def see(self, outcome: Outcome) -> None:
        """What the person's phone shows once the outcome's replies arrive."""
        for reply in outcome.replies:
            if isinstance(reply, Send) and reply.buttons:
                self.screen, self.screen_message_id = reply, next(self._message_ids)
            elif isinstance(reply, Edit):
                self.screen = reply
        self.history.append(outcome)

    async def text(self, text: str, **fields: Any) -> Outcome:
        return await self.send(self._event("text", text=text, **fields))

    async def command(self, line: str) -> Outcome:
        name, _, args = line.lstrip("/").partition(" ")
        return await self.send(self._event("command", text=line, command=name, args=args))

    async def media(self, kind: str, file_id: str = "FILE-1", caption: str | None = None,
                    **fields: Any) -> Outcome:
        return await self.send(self._event("media", media=Media(kind, file_id),  # type: ignore[arg-type]
                                           text=caption, **fields))

    async def press(self, label: str) -> Outcome:
        return await self.press_data(self.button(label))

    async def press_data(self, data: str, **fields: Any) -> Outcome:
        return await self.send(self._event("button", data=data, callback_id="cb",
                                           message_id=self.screen_message_id, **fields))

    def button(self, label: str) -> str:
        assert self.screen is not None, "nothing with buttons was shown"
        for row in self.screen.buttons:
            for b in row:
                if label == b.label or label in b.label:
                    return b.data
        raise AssertionError(f"no button {label!r} in {self.labels()}")

    def labels(self) -> list[str]:
        return [b.label for row in (self.screen.buttons if self.screen else ()) for b in row]

    @property
    def shown(self) -> str:
        """The text of the last message or edit with buttons."""
        return self.screen.text if self.screen else ""

    def last_texts(self) -> list[str]:
        return [r.text or "" for r in self.history[-1].replies
                if isinstance(r, Send | Edit | Answer)]

    async def consent(self) -> None:
        await self.command("/start")
        await self.press("Continue")
        await self.press("OK")
