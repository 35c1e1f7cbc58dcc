"""Shared steps for the moderation tests: a moderators' group, what the outbox
holds, and the outbox's hooks run as the sender would after a send."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from conversations import sent_hooks
from conversations.vocabulary import Chat
from storage import models as m
from storage.sql import SqlUnitOfWork
from tests.harness import NOW, Person, make_engine

GROUP = -100500
BOSS = 900  # in ADMIN_IDS


def engine_for(backend, **settings: Any):  # type: ignore[no-untyped-def]
    settings.setdefault("moderators_chat_id", GROUP)
    settings.setdefault("admin_ids", frozenset({BOSS}))
    settings.setdefault("default_language", "en")  # the group reads English here
    return make_engine(backend, **settings)


def in_group(engine, user_id: int = BOSS, name: str = "Marta", *,  # type: ignore[no-untyped-def]
             thread_id: int | None = None) -> Person:
    return Person(engine, id=user_id, first_name=name, username=name.lower(),
                  chat=Chat(GROUP, "supergroup", thread_id))


async def outbox(backend, chat_id: int | None = None) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    rows = await backend._rows(m.OutboxMessage)
    return [r for r in rows if chat_id is None or r["chat_id"] == chat_id]


async def sent(backend, row: dict[str, Any], message_id: int) -> None:  # type: ignore[no-untyped-def]
    """What the sender does once a row went out: mark it, run its hook."""
    async with backend.sessions() as session:
        found = await session.get(m.OutboxMessage, row["id"])
        found.status, found.sent_message_id = "sent", message_id
        await session.commit()
    if row["on_sent"]:
        hook, arg = sent_hooks.find(row["on_sent"])
        async with SqlUnitOfWork(backend.sessions) as uow:
            await hook(uow, arg, message_id)
            await uow.commit()


async def tickets(backend) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    return await backend._rows(m.Ticket)


async def thread(backend) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    return await backend._rows(m.TicketMessage)


async def grant_row(backend, telegram_id: int, role: str) -> None:  # type: ignore[no-untyped-def]
    async with backend.sessions() as session:
        citizen_id = (await session.execute(select(m.Citizen.id).where(
            m.Citizen.telegram_id == telegram_id))).scalar_one()
        session.add(m.Role(citizen_id=citizen_id, role=role, granted_at=NOW))
        await session.commit()


def button(row: dict[str, Any], label: str) -> str:
    for line in row["buttons"] or []:
        for text, data in line:
            if label in text:
                return data
    raise AssertionError(f"no button {label!r} in {row['buttons']}")
