"""Broadcasts: who receives one, queueing it in bulk, and its delivery figures.

A broadcast's deliveries are ordinary outbox rows at broadcast priority with
``broadcast_id`` set, so the sender, the rate limits, the 403 handling and
the crash recovery are the outbox's; the counts (queued, sent, failed,
blocked) are read from those rows.

Audiences are a small registry of SQL filters on ``citizens``
(:data:`AUDIENCES`): adding one ("signed up for workshop X") is one
decorated function returning a WHERE clause. Whatever the audience, only
citizens who asked for that kind of message (their notification
preferences), still consent to the privacy notice and have not blocked the
bot receive it; erased citizens have no row left to be selected.

Queueing is one ``INSERT ... SELECT`` per language body (the database does
the work, 100,000 rows in a few seconds), each row with the dedupe key
``bc:<broadcast>:<citizen>``: queueing the same broadcast twice adds nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import models as m
from storage.records import LabRecord
from storage.types import Json, UTCDateTime
from storage.upsert import insert_for

BROADCAST_PRIORITY = 2
OPEN = ("pending", "sending", "paused")
#: Sends counted for the current rate.
RATE_WINDOW = timedelta(minutes=1)

#: The kinds of broadcast and the preference a citizen must have switched on.
KINDS: dict[str, Any] = {
    "news": m.NotificationPreferences.news,
    "workshop_invitation": m.NotificationPreferences.workshop_invitations,
}


# -- audiences ---------------------------------------------------------------

@dataclass(frozen=True)
class Audience:
    key: str
    #: What the audience's value is ("lab", "language", ...; None: no value);
    #: the wizard offers the matching picker.
    needs: str | None
    where: Callable[[Any], ColumnElement[bool]]


AUDIENCES: dict[str, Audience] = {}


def audience(key: str, needs: str | None = None) -> Callable[
        [Callable[[Any], ColumnElement[bool]]], Callable[[Any], ColumnElement[bool]]]:
    """Register an audience: a function from its value to a filter on ``citizens``."""
    def register(where: Callable[[Any], ColumnElement[bool]]) -> Callable[
            [Any], ColumnElement[bool]]:
        AUDIENCES[key] = Audience(key, needs, where)
        return where
    return register


@audience("all")
def _everyone(value: Any) -> ColumnElement[bool]:
    return true()


@audience("lab", needs="lab")
def _took_part_in_lab(lab_id: Any) -> ColumnElement[bool]:
    """Took part in the lab: gave an opinion on one of its services, submitted or
    rated one of its proposals, or signed up for one of its workshops (a
    registration not cancelled, waiting places included)."""
    lab = int(lab_id)
    return or_(
        exists().where(m.Opinion.citizen_id == m.Citizen.id,
                       m.Opinion.service_id == m.Service.id, m.Service.lab_id == lab),
        exists().where(m.Proposal.citizen_id == m.Citizen.id, m.Proposal.lab_id == lab),
        exists().where(m.ProposalRating.citizen_id == m.Citizen.id,
                       m.ProposalRating.proposal_id == m.Proposal.id,
                       m.Proposal.lab_id == lab),
        exists().where(m.Registration.citizen_id == m.Citizen.id,
                       m.Registration.workshop_id == m.Workshop.id,
                       m.Workshop.lab_id == lab, m.Registration.status != "cancelled"))


#: Who counts as signed up for a workshop: a seat (confirmed) or came (attended).
SIGNED_UP = ("confirmed", "attended")


@audience("workshop", needs="workshop")
def _signed_up_for(workshop_id: Any) -> ColumnElement[bool]:
    return exists().where(m.Registration.citizen_id == m.Citizen.id,
                          m.Registration.workshop_id == int(workshop_id),
                          m.Registration.status.in_(SIGNED_UP))


@audience("language", needs="language")
def _speaks(language: Any) -> ColumnElement[bool]:
    return m.Citizen.language == str(language)


def recipients(kind: str, audience_key: str, value: Any) -> Any:
    """SELECT of the citizens a broadcast reaches (id, telegram_id, language)."""
    wanted = AUDIENCES[audience_key]
    consented = exists().where(m.Consent.citizen_id == m.Citizen.id,
                               m.Consent.purpose == "privacy",
                               m.Consent.withdrawn_at.is_(None))
    return (select(m.Citizen.id, m.Citizen.telegram_id, m.Citizen.language)
            .join(m.NotificationPreferences,
                  m.NotificationPreferences.citizen_id == m.Citizen.id)
            .where(KINDS[kind].is_(True), m.Citizen.blocked_bot.is_(False), consented,
                   wanted.where(value)))


def _in_bucket(language: str, languages: list[str], default: str) -> ColumnElement[bool]:
    """Citizens who get ``language``'s body: theirs, or the default one when
    there is no body in their language."""
    if language != default:
        return m.Citizen.language == language
    others = [code for code in languages if code != default]
    return m.Citizen.language.not_in(others) if others else true()


# -- records -----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class NewBroadcast:
    kind: str
    created_by: int | None
    audience: dict[str, Any]  # {"key": ..., "value": ...}
    bodies: dict[str, str]  # language → HTML
    buttons: list[dict[str, Any]]
    default_language: str


@dataclass(frozen=True, slots=True)
class Rendered:
    """One language's message exactly as the citizens get it."""

    body: str
    buttons: list[list[list[str]]] | None  # rows of [label, callback data]


@dataclass(frozen=True, slots=True)
class BroadcastFigures:
    id: int
    kind: str
    status: str
    audience: dict[str, Any]
    languages: tuple[str, ...]
    created_at: datetime
    queued_at: datetime | None
    finished_at: datetime | None
    recipients: int
    queued: int  # not sent yet: waiting, being sent or paused
    sent: int
    failed: int
    blocked: int
    cancelled: int
    rate: float  # messages a second over the last minute
    expected_end: datetime | None

    @property
    def open(self) -> bool:
        return self.status in ("queued", "paused")


def _status_of(row: m.Broadcast, queued: int) -> str:
    # "done" is set by the sender's sweep; until then a finished one reads done.
    return "done" if row.status in ("queued", "paused") and queued == 0 else row.status


class SqlBroadcasts:
    """Broadcasts inside an event's unit of work (the wizard, /broadcasts)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def count(self, kind: str, audience_key: str, value: Any) -> dict[str, int]:
        """Recipients by language."""
        found = recipients(kind, audience_key, value).subquery()
        rows = await self.session.execute(
            select(found.c.language, func.count()).group_by(found.c.language))
        return {language: count for language, count in rows}

    async def queue(self, new: NewBroadcast, rendered: dict[str, Rendered],
                    now: datetime) -> tuple[int, int]:
        """Create the broadcast and queue a row per recipient: (id, rows queued)."""
        row = m.Broadcast(kind=new.kind, created_by=new.created_by, audience=new.audience,
                          bodies=new.bodies, buttons=new.buttons, status="queued",
                          created_at=now, queued_at=now)
        self.session.add(row)
        await self.session.flush()
        queued = await enqueue(self.session, row.id, new, rendered, now)
        row.recipients = queued
        await self.session.flush()
        return row.id, queued

    async def latest(self, limit: int, now: datetime) -> list[BroadcastFigures]:
        return await latest(self.session, limit, now)

    async def labs(self) -> list[LabRecord]:
        """Every lab, open or not (an audience may be a lab that has closed)."""
        rows = (await self.session.execute(select(m.Lab).order_by(m.Lab.id))).scalars()
        return [LabRecord(r.id, r.slug, dict(r.title), dict(r.description or {}))
                for r in rows]

    async def figures(self, broadcast_id: int, now: datetime) -> BroadcastFigures | None:
        return await figures(self.session, broadcast_id, now)

    async def pause(self, broadcast_id: int, now: datetime) -> str | None:
        return await pause(self.session, broadcast_id, now)

    async def resume(self, broadcast_id: int, now: datetime) -> str | None:
        return await resume(self.session, broadcast_id, now)

    async def cancel(self, broadcast_id: int, now: datetime) -> str | None:
        return await cancel(self.session, broadcast_id, now)


async def enqueue(session: AsyncSession, broadcast_id: int, new: NewBroadcast,
                  rendered: dict[str, Rendered], now: datetime) -> int:
    """One INSERT ... SELECT per language body; rows already queued are skipped."""
    row = m.OutboxMessage
    languages = list(rendered)
    total = 0
    for language, message in rendered.items():
        chosen = recipients(new.kind, new.audience["key"], new.audience.get("value")).where(
            _in_bucket(language, languages, new.default_language))
        source = chosen.with_only_columns(
            m.Citizen.telegram_id, m.Citizen.id, literal("message"), literal(message.body),
            literal(message.buttons, Json), literal(BROADCAST_PRIORITY),
            literal(f"bc:{broadcast_id}:") + cast(m.Citizen.id, String),
            literal(now, UTCDateTime), literal("pending"), literal(0),
            literal(now, UTCDateTime), literal(broadcast_id),
            maintain_column_froms=True)
        statement = insert_for(session, row).from_select(
            ["chat_id", "citizen_id", "kind", "body", "buttons", "priority", "dedupe_key",
             "not_before", "status", "attempts", "created_at", "broadcast_id"], source,
        ).on_conflict_do_nothing(index_elements=["dedupe_key"])
        result = await session.execute(statement)
        total += max(result.rowcount or 0, 0)
    return total


# -- figures and control (the CLI uses these on a session of its own) ---------

async def figures(session: AsyncSession, broadcast_id: int,
                  now: datetime) -> BroadcastFigures | None:
    found = await session.get(m.Broadcast, broadcast_id)
    if found is None:
        return None
    return await _figures(session, found, now)


async def latest(session: AsyncSession, limit: int, now: datetime) -> list[BroadcastFigures]:
    rows = (await session.execute(
        select(m.Broadcast).order_by(m.Broadcast.id.desc()).limit(limit))).scalars().all()
    return [await _figures(session, row, now) for row in rows]


async def _figures(session: AsyncSession, row: m.Broadcast, now: datetime) -> BroadcastFigures:
    outbox = m.OutboxMessage
    counts = dict((await session.execute(
        select(outbox.status, func.count()).where(outbox.broadcast_id == row.id)
        .group_by(outbox.status))).all())
    recent = (await session.execute(
        select(func.count()).where(outbox.broadcast_id == row.id, outbox.status == "sent",
                                   outbox.sent_at > now - RATE_WINDOW))).scalar_one()
    queued = sum(counts.get(status, 0) for status in OPEN)
    # Over the last minute, or since it was queued when that is more recent.
    span = RATE_WINDOW.total_seconds()
    if row.queued_at is not None:
        span = min(span, max((now - row.queued_at).total_seconds(), 1.0))
    rate = recent / span
    status = _status_of(row, queued)
    expected = None
    if status == "queued" and queued and rate > 0:
        expected = now + timedelta(seconds=queued / rate)
    return BroadcastFigures(
        id=row.id, kind=row.kind, status=status, audience=dict(row.audience or {}),
        languages=tuple(row.bodies or {}), created_at=row.created_at,
        queued_at=row.queued_at, finished_at=row.finished_at, recipients=row.recipients,
        queued=queued, sent=counts.get("sent", 0), failed=counts.get("failed", 0),
        blocked=counts.get("blocked", 0), cancelled=counts.get("cancelled", 0), rate=rate,
        expected_end=expected)


async def _switch(session: AsyncSession, broadcast_id: int, before: tuple[str, ...],
                  after: str, **values: Any) -> str | None:
    """Move the broadcast from one of ``before`` to ``after`` (one conditional UPDATE).

    Returns None when it moved, else the status it has ("missing" if none)."""
    moved = (await session.execute(
        update(m.Broadcast).where(m.Broadcast.id == broadcast_id,
                                  m.Broadcast.status.in_(before))
        .values(status=after, **values).returning(m.Broadcast.id))).first()
    if moved is not None:
        return None
    status = (await session.execute(select(m.Broadcast.status).where(
        m.Broadcast.id == broadcast_id))).scalar_one_or_none()
    return status or "missing"


async def _rows(session: AsyncSession, broadcast_id: int, before: tuple[str, ...],
                **values: Any) -> int:
    result = await session.execute(
        update(m.OutboxMessage)
        .where(m.OutboxMessage.broadcast_id == broadcast_id,
               m.OutboxMessage.status.in_(before))
        .values(**values).execution_options(synchronize_session=False))
    return result.rowcount or 0


async def pause(session: AsyncSession, broadcast_id: int, now: datetime) -> str | None:
    """The sender skips its rows until resumed. Rows it had already claimed
    (at most one batch, about a second of sending) still go out; one that
    comes back as pending is not claimed again (see ``storage.outbox``)."""
    refused = await _switch(session, broadcast_id, ("queued",), "paused")
    if refused is None:
        await _rows(session, broadcast_id, ("pending",), status="paused")
    return refused


async def resume(session: AsyncSession, broadcast_id: int, now: datetime) -> str | None:
    refused = await _switch(session, broadcast_id, ("paused",), "queued")
    if refused is None:
        await _rows(session, broadcast_id, ("paused",), status="pending", not_before=now)
    return refused


async def cancel(session: AsyncSession, broadcast_id: int, now: datetime) -> str | None:
    """Rows not sent yet end as ``cancelled`` (a row being sent finishes)."""
    refused = await _switch(session, broadcast_id, ("queued", "paused"), "cancelled",
                            finished_at=now)
    if refused is None:
        await _rows(session, broadcast_id, ("pending", "paused"), status="cancelled",
                    last_error="broadcast cancelled")
    return refused


async def settle(sessions: async_sessionmaker, now: datetime) -> None:
    """The sender's sweep: rows given back after a pause or a cancel (they were
    being sent at that moment and came back as pending) follow their broadcast,
    and broadcasts with nothing left to send are done."""
    async with sessions() as session:
        held = select(m.Broadcast.id).where(m.Broadcast.status == "paused")
        await session.execute(
            update(m.OutboxMessage)
            .where(m.OutboxMessage.status == "pending",
                   m.OutboxMessage.broadcast_id.in_(held.scalar_subquery()))
            .values(status="paused").execution_options(synchronize_session=False))
        stopped = select(m.Broadcast.id).where(m.Broadcast.status == "cancelled")
        await session.execute(
            update(m.OutboxMessage)
            .where(m.OutboxMessage.status == "pending",
                   m.OutboxMessage.broadcast_id.in_(stopped.scalar_subquery()))
            .values(status="cancelled", last_error="broadcast cancelled")
            .execution_options(synchronize_session=False))
        still_open = exists().where(m.OutboxMessage.broadcast_id == m.Broadcast.id,
                                    m.OutboxMessage.status.in_(OPEN))
        # Paused ones too: paused just as its last messages went out.
        await session.execute(
            update(m.Broadcast).where(m.Broadcast.status.in_(("queued", "paused")), ~still_open)
            .values(status="done", finished_at=now).execution_options(
                synchronize_session=False))
        await session.commit()
