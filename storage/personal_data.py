"""Everything stored about one person: what /mydata hands over and what
/deleteme and the retention purge erase.

Every table is classified here, once: either it holds personal data (and
says how to find a person's rows and what erasure does to them) or it does
not (and says why). ``tests/test_personal_data.py`` fails when a table is
added without being classified, so a new journey cannot forget its data.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import models as m

# Tables that hold nothing about a person, and why.
NOT_PERSONAL: dict[str, str] = {
    "labs": "content written by staff",
    "lab_phases": "content written by staff",
    "services": "content written by staff",
    "processed_updates": "update ids only, pruned after 48 hours",
    "chat_migrations": "ids of groups, not of people",
    "workshops": "content written by staff",
    "workshop_questions": "content written by staff",
}

# Tables with personal data, in the order they are exported.
PERSONAL: tuple[str, ...] = (
    "citizens", "consents", "notification_preferences", "roles", "opinions",
    "conversation_states", "outbox", "registrations", "registration_answers",
    "sensitive_answers",
)


@dataclass
class Erasure:
    """What an erasure did, table by table, and what it could not do."""

    counts: dict[str, int] = field(default_factory=dict)
    kept_comments: bool = False

    def add(self, table: str, count: int) -> None:
        if count:
            self.counts[table] = self.counts.get(table, 0) + count


def _rows_of(citizen_id: int | None, telegram_id: int) -> dict[str, Any]:
    """Each personal table's rows for this person, as a WHERE clause."""
    by_citizen = citizen_id if citizen_id is not None else -1
    registrations = select(m.Registration.id).where(m.Registration.citizen_id == by_citizen)
    return {
        "citizens": m.Citizen.telegram_id == telegram_id,
        "consents": m.Consent.citizen_id == by_citizen,
        "notification_preferences": m.NotificationPreferences.citizen_id == by_citizen,
        "roles": m.Role.citizen_id == by_citizen,
        "opinions": m.Opinion.citizen_id == by_citizen,
        "conversation_states": m.ConversationState.user_id == telegram_id,
        "outbox": or_(m.OutboxMessage.citizen_id == by_citizen,
                      m.OutboxMessage.chat_id == telegram_id),
        "registrations": m.Registration.citizen_id == by_citizen,
        "registration_answers": m.RegistrationAnswer.registration_id.in_(registrations),
        "sensitive_answers": m.SensitiveAnswer.registration_id.in_(registrations),
    }


def _table(name: str) -> Table:
    return m.Base.metadata.tables[name]


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


async def collect(session: AsyncSession, telegram_id: int) -> dict[str, list[dict[str, Any]]]:
    """Every row about this person, table by table, as plain JSON-ready values."""
    citizen_id = (await session.execute(select(m.Citizen.id).where(
        m.Citizen.telegram_id == telegram_id))).scalar_one_or_none()
    where = _rows_of(citizen_id, telegram_id)
    found: dict[str, list[dict[str, Any]]] = {}
    for name in PERSONAL:
        table = _table(name)
        rows = (await session.execute(select(table).where(where[name]))).mappings().all()
        found[name] = [{key: _plain(value) for key, value in row.items()} for row in rows]
    return found


async def erase(session: AsyncSession, telegram_id: int, *, keep_comments: bool,
                now: datetime) -> Erasure:
    """Erase or anonymise everything about this person, in the caller's transaction.

    Ratings stay in the totals, unlinked from the person. Comments, voice
    notes and photos go, unless ``keep_comments`` (then they stay, anonymous).
    Queued messages to them are cancelled and their text blanked.
    """
    done = Erasure(kept_comments=keep_comments)
    citizen_id = (await session.execute(select(m.Citizen.id).where(
        m.Citizen.telegram_id == telegram_id))).scalar_one_or_none()
    where = _rows_of(citizen_id, telegram_id)

    opinion_values: dict[str, Any] = {"citizen_id": None}
    if not keep_comments:
        opinion_values.update(comment=None, media_kind=None, media_file_id=None)
    result = await session.execute(update(m.Opinion).where(where["opinions"])
                                   .values(**opinion_values))
    done.add("opinions", result.rowcount or 0)

    result = await session.execute(
        update(m.OutboxMessage).where(where["outbox"])
        .values(status="cancelled", body=None, buttons=None, citizen_id=None,
                last_error="erased at the person's request")
        .where(m.OutboxMessage.status.in_(("pending", "sending"))))
    done.add("outbox_cancelled", result.rowcount or 0)
    # The rows stay (delivery counts of a broadcast), but say nothing of whom.
    result = await session.execute(
        update(m.OutboxMessage).where(where["outbox"])
        .values(body=None, buttons=None, citizen_id=None, chat_id=0))
    done.add("outbox", result.rowcount or 0)

    await _erase_registrations(session, where, keep_comments, done)

    if citizen_id is not None:
        # Roles they granted to others stay; only the link to them goes.
        await session.execute(update(m.Role).where(m.Role.granted_by == citizen_id)
                              .values(granted_by=None))
    for name in ("consents", "notification_preferences", "roles", "conversation_states",
                 "citizens"):
        result = await session.execute(delete(_table(name)).where(where[name]))
        done.add(name, result.rowcount or 0)
    return done


async def _erase_registrations(session: AsyncSession, where: dict[str, Any],
                               keep_comments: bool, done: Erasure) -> None:
    """Workshop sign-ups: answers deleted; seats they held freed (the waiting
    list is offered them by the workshop job); attendance and feedback stay in
    the totals, unlinked (the comment only if they keep their comments)."""
    registration = m.Registration
    for name in ("sensitive_answers", "registration_answers"):
        result = await session.execute(delete(_table(name)).where(where[name]))
        done.add(name, result.rowcount or 0)
    held = (await session.execute(
        select(registration.workshop_id).where(
            where["registrations"], registration.status.in_(("confirmed", "offered"))))
    ).scalars().all()
    for workshop_id in held:
        await session.execute(
            update(m.Workshop).where(m.Workshop.id == workshop_id, m.Workshop.taken > 0)
            .values(taken=m.Workshop.taken - 1))
    attended: dict[str, Any] = {"citizen_id": None, "checkin_token": secrets.token_urlsafe(24),
                                "coming_confirmed_at": None}
    if not keep_comments:
        attended["feedback_comment"] = None
    kept = (await session.execute(
        select(registration.id).where(where["registrations"],
                                      registration.status == "attended"))).scalars().all()
    for registration_id in kept:
        # A fresh token each: the column is unique.
        attended["checkin_token"] = secrets.token_urlsafe(24)
        await session.execute(update(registration).where(registration.id == registration_id)
                              .values(**attended))
    result = await session.execute(delete(registration).where(
        where["registrations"], registration.status != "attended"))
    done.add("registrations", (result.rowcount or 0) + len(kept))


async def inactive_since(session: AsyncSession, before: datetime) -> list[int]:
    """Telegram ids of people with no activity since ``before`` (citizens, and
    conversations of people who never consented)."""
    citizens = (await session.execute(select(m.Citizen.telegram_id).where(
        m.Citizen.last_seen < before))).scalars().all()
    strangers = (await session.execute(
        select(m.ConversationState.user_id).where(
            m.ConversationState.updated_at < before,
            m.ConversationState.user_id.not_in(select(m.Citizen.telegram_id))))).scalars().all()
    return sorted(set(citizens) | set(strangers))


@dataclass
class Purge:
    people: int = 0
    counts: dict[str, int] = field(default_factory=dict)


async def purge_inactive(sessions, now: datetime, retention_days: int, *,  # type: ignore[no-untyped-def]
                         dry_run: bool = False) -> Purge:
    """Erase people inactive for ``retention_days`` (comments too), one transaction each,
    so a failure part-way keeps what was done."""
    async with sessions() as session:
        people = await inactive_since(session, now - timedelta(days=retention_days))
    report = Purge(people=len(people))
    if dry_run:
        return report
    for telegram_id in people:
        async with sessions() as session:
            erased = await erase(session, telegram_id, keep_comments=False, now=now)
            await session.commit()
        for table, count in erased.counts.items():
            report.counts[table] = report.counts.get(table, 0) + count
    return report
