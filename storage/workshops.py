"""Workshops, their sign-up questions and registrations (SQL only).

Capacity is the database's job, never read-then-write in Python: a seat is
taken by one conditional ``UPDATE workshops SET taken = taken + 1 WHERE
taken < capacity RETURNING taken`` in the transaction that writes the
registration (unique per workshop and citizen), and a CHECK keeps
``taken`` within ``capacity`` whatever happens. On PostgreSQL the row lock
of that UPDATE orders concurrent sign-ups; on SQLite every transaction
starts with BEGIN IMMEDIATE (:mod:`storage.database`).

``taken`` counts confirmed seats and seats held for an offer. A freed seat
goes to the waiting list first: a newcomer only gets a free seat when
nobody is waiting (or when offers are over, close to the start).

Every state change is a conditional UPDATE on the status it expects, so
two processes running the same job, or a double tap, change a row once.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import models as m
from storage import reports
from storage.upsert import insert_for

ACTIVE = ("confirmed", "waitlisted", "offered", "attended")
HOLDING_A_SEAT = ("confirmed", "offered")
SignUpOutcome = Literal["confirmed", "waitlisted", "already", "closed"]


def new_token() -> str:
    """A check-in code nobody can guess (192 random bits, URL-safe)."""
    return secrets.token_urlsafe(24)


@dataclass(frozen=True, slots=True)
class WorkshopRecord:
    id: int
    slug: str
    lab_id: int
    title: dict[str, str]
    description: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    place: str | None
    map_url: str | None
    online_url: str | None
    capacity: int
    taken: int
    status: str
    revision: int = 0  # a new date or place: new reminders

    @property
    def seats_left(self) -> int:
        return max(self.capacity - self.taken, 0)


@dataclass(frozen=True, slots=True)
class QuestionRecord:
    id: int
    position: int
    kind: str
    prompt: dict[str, str]
    options: list[dict[str, str]]
    sensitive: bool


@dataclass(frozen=True, slots=True)
class RegistrationRecord:
    id: int
    workshop_id: int
    citizen_id: int
    status: str
    created_at: datetime
    checkin_token: str
    offer_expires_at: datetime | None = None
    attended_at: datetime | None = None
    feedback_score: int | None = None


@dataclass(frozen=True, slots=True)
class SignUp:
    outcome: SignUpOutcome
    registration: RegistrationRecord | None = None
    position: int | None = None  # on the waiting list, from 1


@dataclass(frozen=True, slots=True)
class Recipient:
    """Someone to tell about a workshop: their registration and how to reach them."""

    registration_id: int
    telegram_id: int
    language: str
    status: str
    name: str | None = None
    username: str | None = None
    attended_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class NewQuestion:
    kind: str
    prompt: dict[str, str]
    options: list[dict[str, str]] = field(default_factory=list)
    sensitive: bool = False


@dataclass(frozen=True, slots=True)
class NewWorkshop:
    slug: str
    lab_id: int
    title: dict[str, str]
    description: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    capacity: int
    place: str | None = None
    map_url: str | None = None
    online_url: str | None = None
    questions: tuple[NewQuestion, ...] = ()


@dataclass(frozen=True, slots=True)
class Counts:
    signed_up: int = 0
    waiting: int = 0
    offered: int = 0
    attended: int = 0


def _workshop(r: m.Workshop) -> WorkshopRecord:
    return WorkshopRecord(r.id, r.slug, r.lab_id, dict(r.title), dict(r.description or {}),
                          r.starts_at, r.ends_at, r.place, r.map_url, r.online_url,
                          r.capacity, r.taken, r.status, r.revision)


def _registration(r: m.Registration) -> RegistrationRecord:
    return RegistrationRecord(r.id, r.workshop_id, r.citizen_id, r.status, r.created_at,
                              r.checkin_token, r.offer_expires_at, r.attended_at,
                              r.feedback_score)


W, R = m.Workshop, m.Registration


def _open_labs(now: datetime):  # type: ignore[no-untyped-def]
    """Labs whose workshops phase is open now."""
    return select(m.LabPhase.lab_id).where(
        m.LabPhase.phase == "workshops", m.LabPhase.opens_at <= now,
        or_(m.LabPhase.closes_at.is_(None), m.LabPhase.closes_at > now))


class SqlWorkshops:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def _postgres(self) -> bool:
        return self.session.bind.dialect.name == "postgresql"

    # -- reading ------------------------------------------------------------

    async def upcoming(self, now: datetime) -> list[WorkshopRecord]:
        """Scheduled workshops not started yet, of labs open for workshops, soonest first."""
        rows = (await self.session.execute(
            select(W).where(W.status == "scheduled", W.starts_at > now,
                            W.lab_id.in_(_open_labs(now)))
            .order_by(W.starts_at, W.id))).scalars()
        return [_workshop(r) for r in rows]

    async def all(self, since: datetime | None = None) -> list[WorkshopRecord]:
        query = select(W).order_by(W.starts_at, W.id)
        if since is not None:
            query = query.where(W.ends_at > since)
        return [_workshop(r) for r in (await self.session.execute(query)).scalars()]

    async def get(self, workshop_id: int) -> WorkshopRecord | None:
        row = (await self.session.execute(select(W).where(W.id == workshop_id))
               ).scalar_one_or_none()
        return _workshop(row) if row else None

    async def by_slug(self, slug: str) -> WorkshopRecord | None:
        row = (await self.session.execute(select(W).where(W.slug == slug))).scalar_one_or_none()
        return _workshop(row) if row else None

    async def questions(self, workshop_id: int) -> list[QuestionRecord]:
        rows = (await self.session.execute(
            select(m.WorkshopQuestion).where(m.WorkshopQuestion.workshop_id == workshop_id)
            .order_by(m.WorkshopQuestion.position))).scalars()
        return [QuestionRecord(q.id, q.position, q.kind, dict(q.prompt),
                               [dict(o) for o in q.options or []], q.sensitive) for q in rows]

    async def registration(self, registration_id: int) -> RegistrationRecord | None:
        row = (await self.session.execute(select(R).where(R.id == registration_id))
               ).scalar_one_or_none()
        return _registration(row) if row else None

    async def registration_of(self, workshop_id: int, citizen_id: int
                              ) -> RegistrationRecord | None:
        row = (await self.session.execute(select(R).where(
            R.workshop_id == workshop_id, R.citizen_id == citizen_id))).scalar_one_or_none()
        return _registration(row) if row else None

    async def mine(self, citizen_id: int, now: datetime
                   ) -> list[tuple[RegistrationRecord, WorkshopRecord]]:
        """A citizen's sign-ups and waiting places for workshops not over yet."""
        rows = (await self.session.execute(
            select(R, W).join(W, W.id == R.workshop_id)
            .where(R.citizen_id == citizen_id, R.status.in_(ACTIVE), W.ends_at > now,
                   W.status == "scheduled")
            .order_by(W.starts_at, W.id))).all()
        return [(_registration(r), _workshop(w)) for r, w in rows]

    async def position(self, registration: RegistrationRecord) -> int | None:
        """Place on the waiting list (1 = next), or None when not waiting."""
        me = (await self.session.execute(select(R.waiting_since, R.status).where(
            R.id == registration.id))).first()
        if me is None or me.status != "waitlisted":
            return None
        ahead = await self.session.scalar(select(func.count()).select_from(R).where(
            R.workshop_id == registration.workshop_id, R.status == "waitlisted",
            or_(R.waiting_since < me.waiting_since,
                and_(R.waiting_since == me.waiting_since, R.id < registration.id))))
        return int(ahead or 0) + 1

    async def counts(self, workshop_id: int) -> Counts:
        rows = dict((await self.session.execute(
            select(R.status, func.count()).where(R.workshop_id == workshop_id)
            .group_by(R.status))).all())
        return Counts(signed_up=rows.get("confirmed", 0) + rows.get("attended", 0),
                      waiting=rows.get("waitlisted", 0), offered=rows.get("offered", 0),
                      attended=rows.get("attended", 0))

    async def recipients(self, workshop_id: int, statuses: tuple[str, ...]) -> list[Recipient]:
        """Registrations in these statuses, with who they are (for notices and lists)."""
        rows = (await self.session.execute(
            select(R.id, m.Citizen.telegram_id, m.Citizen.language, R.status,
                   m.Citizen.first_name, m.Citizen.username, R.attended_at)
            .join(m.Citizen, m.Citizen.id == R.citizen_id)
            .where(R.workshop_id == workshop_id, R.status.in_(statuses))
            .order_by(m.Citizen.first_name, R.id))).all()
        return [Recipient(*row) for row in rows]

    async def recipient(self, registration_id: int) -> Recipient | None:
        row = (await self.session.execute(
            select(R.id, m.Citizen.telegram_id, m.Citizen.language, R.status,
                   m.Citizen.first_name, m.Citizen.username, R.attended_at)
            .join(m.Citizen, m.Citizen.id == R.citizen_id)
            .where(R.id == registration_id))).first()
        return Recipient(*row) if row else None

    async def labs(self) -> list[tuple[int, str, dict[str, str]]]:
        """Every lab (id, slug, title), for staff creating a workshop."""
        rows = await self.session.execute(select(m.Lab.id, m.Lab.slug, m.Lab.title)
                                          .order_by(m.Lab.id))
        return [(i, s, dict(t)) for i, s, t in rows]

    # -- staff --------------------------------------------------------------

    async def create(self, new: NewWorkshop, now: datetime) -> int | None:
        """The new workshop's id, or None when the slug is taken."""
        result = await self.session.execute(
            insert_for(self.session, W).values(
                slug=new.slug, lab_id=new.lab_id, title=new.title,
                description=new.description, starts_at=new.starts_at, ends_at=new.ends_at,
                place=new.place, map_url=new.map_url, online_url=new.online_url,
                capacity=new.capacity, taken=0, status="scheduled", revision=0, created_at=now,
                updated_at=now)
            .on_conflict_do_nothing(index_elements=["slug"]).returning(W.id))
        workshop_id = result.scalar_one_or_none()
        if workshop_id is None:
            return None
        for position, question in enumerate(new.questions, start=1):
            self.session.add(m.WorkshopQuestion(
                workshop_id=workshop_id, position=position, kind=question.kind,
                prompt=question.prompt, options=question.options or None,
                sensitive=question.sensitive))
        await self.session.flush()
        return workshop_id

    async def reschedule(self, workshop_id: int, starts_at: datetime, ends_at: datetime,
                         now: datetime) -> bool:
        result = await self.session.execute(
            update(W).where(W.id == workshop_id, W.status == "scheduled")
            .values(starts_at=starts_at, ends_at=ends_at, updated_at=now,
                    revision=W.revision + 1)
            .execution_options(synchronize_session=False))
        return bool(result.rowcount)

    async def move(self, workshop_id: int, place: str | None, map_url: str | None,
                   online_url: str | None, now: datetime) -> bool:
        result = await self.session.execute(
            update(W).where(W.id == workshop_id, W.status == "scheduled")
            .values(place=place, map_url=map_url, online_url=online_url, updated_at=now,
                    revision=W.revision + 1)
            .execution_options(synchronize_session=False))
        return bool(result.rowcount)

    async def cancel_workshop(self, workshop_id: int, now: datetime) -> list[Recipient]:
        """Cancel it (once): everyone registered or waiting, to be told."""
        result = await self.session.execute(
            update(W).where(W.id == workshop_id, W.status == "scheduled")
            .values(status="cancelled", updated_at=now)
            .execution_options(synchronize_session=False))
        if not result.rowcount:
            return []
        told = await self.recipients(workshop_id, ("confirmed", "waitlisted", "offered"))
        await self.session.execute(
            update(R).where(R.workshop_id == workshop_id,
                            R.status.in_(("confirmed", "waitlisted", "offered")))
            .values(status="cancelled", cancelled_at=now, offer_expires_at=None)
            .execution_options(synchronize_session=False))
        await self.session.execute(update(W).where(W.id == workshop_id).values(taken=0)
                                   .execution_options(synchronize_session=False))
        return told

    # -- signing up -----------------------------------------------------------

    async def sign_up(self, workshop_id: int, citizen_id: int, now: datetime, *,
                      answers: Sequence[tuple[QuestionRecord, str]] = (),
                      newcomers_take_free_seats: bool = False) -> SignUp:
        """Confirmed when a seat is free, else waitlisted; "already" for a second try.

        ``newcomers_take_free_seats``: offers are over (close to the start), so
        a free seat goes to whoever asks, even with people waiting.
        """
        # One read: is the workshop open, and is this person there already?
        found = (await self.session.execute(
            select(W.status, W.starts_at, R).outerjoin(
                R, and_(R.workshop_id == W.id, R.citizen_id == citizen_id))
            .where(W.id == workshop_id))).first()
        if found is None or found.status != "scheduled" or found.starts_at <= now:
            return SignUp("closed")
        existing = _registration(found.Registration) if found.Registration else None
        if existing is not None and existing.status != "cancelled":
            return SignUp("already", existing, await self.position(existing))
        conditions = [W.id == workshop_id, W.status == "scheduled", W.starts_at > now,
                      W.taken < W.capacity]
        if not newcomers_take_free_seats:
            # A seat freed while people wait is theirs (offered in turn).
            conditions.append(~exists().where(R.workshop_id == workshop_id,
                                              R.status == "waitlisted"))
        seat = (await self.session.execute(
            update(W).where(*conditions).values(taken=W.taken + 1).returning(W.taken)
            .execution_options(synchronize_session=False))).first()
        status = "confirmed" if seat is not None else "waitlisted"
        values = {"status": status, "created_at": now, "checkin_token": new_token(),
                  "waiting_since": now if status == "waitlisted" else None,
                  "offer_expires_at": None, "cancelled_at": None, "attended_at": None,
                  "coming_confirmed_at": None, "feedback_score": None,
                  "feedback_comment": None}
        if existing is not None:
            # Signing up again after cancelling: the same row, a new token.
            result = await self.session.execute(
                update(R).where(R.id == existing.id, R.status == "cancelled").values(**values)
                .returning(R).execution_options(synchronize_session=False))
        else:
            result = await self.session.execute(
                insert_for(self.session, R).values(workshop_id=workshop_id,
                                                   citizen_id=citizen_id, **values)
                .on_conflict_do_nothing(index_elements=["workshop_id", "citizen_id"])
                .returning(R))
        row = result.scalar_one_or_none()
        if row is None:
            # The same person signed up in another transaction meanwhile.
            if seat is not None:
                await self._release(workshop_id)
            again = await self.registration_of(workshop_id, citizen_id)
            return SignUp("already", again)
        registration = _registration(row)
        if answers or existing is not None:
            await self._save_answers(registration.id, answers)
        position = None
        if status == "waitlisted":
            ahead = await self.session.scalar(select(func.count()).select_from(R).where(
                R.workshop_id == workshop_id, R.status == "waitlisted",
                or_(R.waiting_since < now, and_(R.waiting_since == now, R.id < row.id))))
            position = int(ahead or 0) + 1
        return SignUp(status, registration, position)

    async def _save_answers(self, registration_id: int,
                            answers: Sequence[tuple[QuestionRecord, str]]) -> None:
        for model in (m.RegistrationAnswer, m.SensitiveAnswer):
            await self.session.execute(delete(model).where(
                model.registration_id == registration_id))
        for question, answer in answers:
            model = m.SensitiveAnswer if question.sensitive else m.RegistrationAnswer
            self.session.add(model(registration_id=registration_id, question_id=question.id,
                                   answer=answer))
        await self.session.flush()

    async def _release(self, workshop_id: int) -> None:
        await self.session.execute(
            update(W).where(W.id == workshop_id, W.taken > 0).values(taken=W.taken - 1)
            .execution_options(synchronize_session=False))

    async def cancel(self, registration_id: int, now: datetime) -> str | None:
        """The citizen gives up their place. Returns the status they had (a held
        seat is freed), or None when there was nothing to cancel."""
        for statuses in (HOLDING_A_SEAT, ("waitlisted",)):
            row = (await self.session.execute(
                update(R).where(R.id == registration_id, R.status.in_(statuses))
                .values(status="cancelled", cancelled_at=now, offer_expires_at=None)
                .returning(R.workshop_id).execution_options(synchronize_session=False))
            ).first()
            if row is not None:
                if statuses == HOLDING_A_SEAT:
                    await self._release(row.workshop_id)
                    return "confirmed"
                return "waitlisted"
        return None

    # -- the waiting list ---------------------------------------------------

    async def offer_next(self, workshop_id: int, now: datetime, expires_at: datetime
                         ) -> RegistrationRecord | None:
        """Hold a free seat for the first person waiting; None when there is no
        free seat or nobody waits. Safe to run in several processes at once."""
        seat = (await self.session.execute(
            update(W).where(W.id == workshop_id, W.status == "scheduled", W.starts_at > now,
                            W.taken < W.capacity)
            .values(taken=W.taken + 1).returning(W.id)
            .execution_options(synchronize_session=False))).first()
        if seat is None:
            return None
        first = (select(R.id).where(R.workshop_id == workshop_id, R.status == "waitlisted")
                 .order_by(R.waiting_since, R.id).limit(1))
        if self._postgres:
            first = first.with_for_update(skip_locked=True)
        row = (await self.session.execute(
            update(R).where(R.id == first.scalar_subquery(), R.status == "waitlisted")
            .values(status="offered", offer_expires_at=expires_at).returning(R.id)
            .execution_options(synchronize_session=False))).first()
        if row is None:
            await self._release(workshop_id)
            return None
        return await self.registration(row.id)

    async def with_free_seats_and_queue(self, now: datetime, offers_until: datetime
                                        ) -> list[int]:
        """Workshops where a seat is free while people wait, starting after
        ``offers_until`` (no offers in the last hours before the start)."""
        rows = await self.session.execute(
            select(W.id).where(W.status == "scheduled", W.taken < W.capacity,
                               W.starts_at > offers_until,
                               exists().where(R.workshop_id == W.id,
                                              R.status == "waitlisted")))
        return list(rows.scalars())

    async def accept_offer(self, registration_id: int, now: datetime) -> bool:
        result = await self.session.execute(
            update(R).where(R.id == registration_id, R.status == "offered",
                            R.offer_expires_at > now)
            .values(status="confirmed", offer_expires_at=None, waiting_since=None)
            .execution_options(synchronize_session=False))
        return bool(result.rowcount)

    async def claim_free_seat(self, registration_id: int, workshop_id: int, now: datetime
                              ) -> bool:
        """Someone waiting takes a seat that is free (offers are over, close to the
        start): the same conditional seat UPDATE as a sign-up, then the row."""
        seat = (await self.session.execute(
            update(W).where(W.id == workshop_id, W.status == "scheduled", W.starts_at > now,
                            W.taken < W.capacity)
            .values(taken=W.taken + 1).returning(W.id)
            .execution_options(synchronize_session=False))).first()
        if seat is None:
            return False
        result = await self.session.execute(
            update(R).where(R.id == registration_id, R.workshop_id == workshop_id,
                            R.status == "waitlisted")
            .values(status="confirmed", waiting_since=None)
            .execution_options(synchronize_session=False))
        if not result.rowcount:
            await self._release(workshop_id)
            return False
        return True

    async def expire_offers(self, now: datetime) -> list[RegistrationRecord]:
        """Offers nobody answered in time: their seats are freed for the next one.
        Each row is taken by exactly one caller (conditional UPDATE)."""
        rows = (await self.session.execute(
            update(R).where(R.status == "offered", R.offer_expires_at <= now)
            .values(status="cancelled", cancelled_at=now)
            .returning(R.id, R.workshop_id).execution_options(synchronize_session=False))
        ).all()
        for row in rows:
            await self._release(row.workshop_id)
        found = [await self.registration(row.id) for row in rows]
        return [r for r in found if r is not None]

    # -- the day ------------------------------------------------------------

    async def confirm_coming(self, registration_id: int, now: datetime) -> bool:
        result = await self.session.execute(
            update(R).where(R.id == registration_id, R.status == "confirmed")
            .values(coming_confirmed_at=now).execution_options(synchronize_session=False))
        return bool(result.rowcount)

    async def check_in(self, registration_id: int, now: datetime) -> bool:
        """Mark attendance once (a second scan changes nothing)."""
        result = await self.session.execute(
            update(R).where(R.id == registration_id, R.status == "confirmed")
            .values(status="attended", attended_at=now)
            .execution_options(synchronize_session=False))
        return bool(result.rowcount)

    async def attendees_table(self, workshop_id: int, language: str, *,
                              include_sensitive: bool) -> tuple[list[str], list[tuple]]:
        return await reports.attendees_table(self.session, workshop_id, language,
                                             include_sensitive=include_sensitive)

    async def by_token(self, token: str) -> RegistrationRecord | None:
        row = (await self.session.execute(select(R).where(R.checkin_token == token))
               ).scalar_one_or_none()
        return _registration(row) if row else None

    async def give_feedback(self, registration_id: int, score: int) -> bool:
        """The score, once per attendee."""
        result = await self.session.execute(
            update(R).where(R.id == registration_id, R.status == "attended",
                            R.feedback_score.is_(None))
            .values(feedback_score=score).execution_options(synchronize_session=False))
        return bool(result.rowcount)

    async def feedback_comment(self, registration_id: int, comment: str) -> bool:
        result = await self.session.execute(
            update(R).where(R.id == registration_id, R.status == "attended",
                            R.feedback_score.is_not(None), R.feedback_comment.is_(None))
            .values(feedback_comment=comment).execution_options(synchronize_session=False))
        return bool(result.rowcount)

    async def cancel_messages(self, registration_id: int, *, reminders_only: bool = False
                              ) -> int:
        """Reminders and offers still queued for this registration (keys
        ``ws:ID:TOKEN:...``, reminders ``...:r...``)."""
        pattern = f"ws:{registration_id}:%:r%" if reminders_only else f"ws:{registration_id}:%"
        result = await self.session.execute(
            update(m.OutboxMessage)
            .where(m.OutboxMessage.dedupe_key.like(pattern),
                   m.OutboxMessage.status == "pending")
            .values(status="cancelled", last_error="no longer needed")
            .execution_options(synchronize_session=False))
        return result.rowcount or 0


def _over(now: datetime):  # type: ignore[no-untyped-def]
    return select(R.id).join(W, W.id == R.workshop_id).where(
        or_(W.ends_at <= now, W.status == "cancelled"))


async def purge_sensitive_answers(session: AsyncSession, now: datetime) -> int:
    """Sensitive answers of workshops that are over (or cancelled): erased."""
    result = await session.execute(delete(m.SensitiveAnswer).where(
        m.SensitiveAnswer.registration_id.in_(_over(now))))
    return result.rowcount or 0


async def count_sensitive_answers_over(session: AsyncSession, now: datetime) -> int:
    """What :func:`purge_sensitive_answers` would erase (``participa purge --dry-run``)."""
    return int(await session.scalar(select(func.count()).select_from(m.SensitiveAnswer).where(
        m.SensitiveAnswer.registration_id.in_(_over(now)))) or 0)
