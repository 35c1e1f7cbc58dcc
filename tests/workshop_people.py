"""Helpers for workshop flow tests: a movable clock, outbox rows, pressing a
button that arrived in a notification."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from conversations.vocabulary import Button, Send
from storage import models as m
from tests.harness import NOW, Person


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


async def outbox(backend, chat_id: int | None = None, status: str | None = "pending"  # type: ignore[no-untyped-def]
                 ) -> list[dict[str, Any]]:
    async with backend.sessions() as session:
        query = select(m.OutboxMessage).order_by(m.OutboxMessage.id)
        if chat_id is not None:
            query = query.where(m.OutboxMessage.chat_id == chat_id)
        if status is not None:
            query = query.where(m.OutboxMessage.status == status)
        rows = (await session.execute(query)).scalars().all()
        return [{c.key: getattr(r, c.key) for c in m.OutboxMessage.__table__.columns}
                for r in rows]


def receive(person: Person, row: dict[str, Any]) -> None:
    """The person got this outbox row as a message with buttons."""
    buttons = tuple(tuple(Button(label, data) for label, data in line)
                    for line in row["buttons"] or [])
    person.screen, person.screen_message_id = Send(row["body"], buttons), 9_999


async def registrations(backend) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    return await backend._rows(m.Registration)
