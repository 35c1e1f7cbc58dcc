"""The numbers behind /stats: one lab, one period, plain dataclasses.

The charts (:mod:`conversations.charts`) only draw what these functions
return, so a test can check the numbers each chart is fed. A period is a
half-open interval ``[start, end)`` of aware datetimes; ``start`` None means
since the lab began. What falls in a period: opinions, proposals and ratings
by when they were given, workshops by when they start, tickets by when they
were opened (closed: by when they were closed).

Tickets are not tied to a lab (a question to the team is about anything),
so their figures are the whole bot's for the period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from storage import models as m
from storage.export import Section
from storage.records import VISIBLE_STATUSES, LabRecord
from storage.reports import lab_report, pick, reference

PRESETS = ("week", "month", "all")
BEST_SHOWN = 3
PROPOSAL_STATUSES = ("pending", "published", "under_study", "accepted", "rejected",
                     "implemented")


@dataclass(frozen=True, slots=True)
class Period:
    """``[start, end)``; None is unbounded on that side."""

    start: datetime | None
    end: datetime | None


def period(preset: str, now: datetime, timezone: str) -> Period:
    """This week (Monday to Sunday), this month or the whole lab, in ``timezone``.
    A week or a month is the whole calendar one: this week's workshops still
    to come count too."""
    local = now.astimezone(ZoneInfo(timezone))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if preset == "week":
        monday = (midnight - timedelta(days=local.weekday())).replace(tzinfo=None)
        return Period(_at(monday, timezone), _at(monday + timedelta(days=7), timezone))
    if preset == "month":
        first = midnight.replace(day=1, tzinfo=None)
        following = (first + timedelta(days=32)).replace(day=1)
        return Period(_at(first, timezone), _at(following, timezone))
    if preset == "all":
        return Period(None, None)
    raise ValueError(f"unknown period {preset!r}")


def _at(local: datetime, timezone: str) -> datetime:
    # Midnight in the zone on that date (a summer-time change shifts the UTC hour).
    return local.replace(tzinfo=ZoneInfo(timezone)).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Participants:
    """Distinct people who took part, in all and per way of taking part.
    People who erased their data are no longer counted (nothing links them)."""

    total: int
    opinions: int
    proposals: int
    ratings: int
    workshops: int


@dataclass(frozen=True, slots=True)
class ServiceOpinions:
    slug: str
    title: str
    distribution: tuple[int, int, int, int, int]  # how many gave 1, 2, 3, 4, 5

    @property
    def count(self) -> int:
        return sum(self.distribution)

    @property
    def average(self) -> float | None:
        return _average(self.distribution)


@dataclass(frozen=True, slots=True)
class BestProposal:
    reference: str
    title: str
    ratings: int
    average: float | None
    rank_score: float


@dataclass(frozen=True, slots=True)
class ProposalFigures:
    by_status: dict[str, int]  # every known status, zero when none
    best: list[BestProposal]

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


@dataclass(frozen=True, slots=True)
class WorkshopFigures:
    slug: str
    title: str
    starts_at: datetime
    signed_up: int  # confirmed or attended
    attended: int
    feedback_answers: int
    feedback_average: float | None


@dataclass(frozen=True, slots=True)
class TicketFigures:
    opened: int
    closed: int
    satisfaction: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)

    @property
    def satisfaction_answers(self) -> int:
        return sum(self.satisfaction)

    @property
    def satisfaction_average(self) -> float | None:
        return _average(self.satisfaction)


@dataclass(frozen=True, slots=True)
class LabStats:
    lab_slug: str
    lab_title: str
    period: Period
    participants: Participants
    services: list[ServiceOpinions]
    proposals: ProposalFigures
    workshops: list[WorkshopFigures]
    tickets: TicketFigures


def _average(distribution: tuple[int, ...]) -> float | None:
    total = sum(distribution)
    if not total:
        return None
    return round(sum((n + 1) * c for n, c in enumerate(distribution)) / total, 2)


def _within(column, span: Period) -> list:  # type: ignore[no-untyped-def]
    conditions = []
    if span.end is not None:
        conditions.append(column < span.end)
    if span.start is not None:
        conditions.append(column >= span.start)
    return conditions


async def participants(session: AsyncSession, lab_id: int, span: Period) -> Participants:
    o, s, p, r, g, w = (m.Opinion, m.Service, m.Proposal, m.ProposalRating, m.Registration,
                        m.Workshop)
    by_opinion = (select(o.citizen_id.label("citizen_id")).join(s, s.id == o.service_id)
                  .where(s.lab_id == lab_id, o.citizen_id.is_not(None),
                         *_within(o.created_at, span)))
    by_proposal = (select(p.citizen_id.label("citizen_id"))
                   .where(p.lab_id == lab_id, p.citizen_id.is_not(None),
                          *_within(p.created_at, span)))
    by_rating = (select(r.citizen_id.label("citizen_id")).join(p, p.id == r.proposal_id)
                 .where(p.lab_id == lab_id, r.citizen_id.is_not(None),
                        *_within(r.rated_at, span)))
    by_workshop = (select(g.citizen_id.label("citizen_id")).join(w, w.id == g.workshop_id)
                   .where(w.lab_id == lab_id, g.citizen_id.is_not(None),
                          g.status != "cancelled", *_within(w.starts_at, span)))

    async def distinct(query) -> int:  # type: ignore[no-untyped-def]
        inner = query.subquery()
        return (await session.execute(
            select(func.count(func.distinct(inner.c.citizen_id))))).scalar_one()

    everyone = union(by_opinion, by_proposal, by_rating, by_workshop).subquery()
    total = (await session.execute(select(func.count()).select_from(everyone))).scalar_one()
    return Participants(total, await distinct(by_opinion), await distinct(by_proposal),
                        await distinct(by_rating), await distinct(by_workshop))


async def service_opinions(session: AsyncSession, lab_id: int, span: Period, language: str
                           ) -> list[ServiceOpinions]:
    services = (await session.execute(
        select(m.Service).where(m.Service.lab_id == lab_id)
        .order_by(m.Service.position, m.Service.id))).scalars().all()
    counts = (await session.execute(
        select(m.Opinion.service_id, m.Opinion.rating, func.count())
        .join(m.Service, m.Service.id == m.Opinion.service_id)
        .where(m.Service.lab_id == lab_id, *_within(m.Opinion.created_at, span))
        .group_by(m.Opinion.service_id, m.Opinion.rating))).all()
    found: dict[int, list[int]] = {s.id: [0] * 5 for s in services}
    for service_id, rating, count in counts:
        found[service_id][rating - 1] = count
    return [ServiceOpinions(s.slug, pick(s.title, language),
                            tuple(found[s.id]))  # type: ignore[arg-type]
            for s in services]


async def proposal_figures(session: AsyncSession, lab_id: int, span: Period, language: str
                           ) -> ProposalFigures:
    p = m.Proposal
    where = [p.lab_id == lab_id, *_within(p.created_at, span)]
    by_status = dict.fromkeys(PROPOSAL_STATUSES, 0)
    for status, count in await session.execute(
            select(p.status, func.count()).where(*where).group_by(p.status)):
        by_status[status] = count
    # The best rated: the Bayesian rank kept on each row (storage.proposals),
    # among those citizens can see and have rated at all.
    best = (await session.execute(
        select(p).where(*where, p.status.in_(VISIBLE_STATUSES), p.ratings_count > 0)
        .order_by(p.rank_score.desc(), p.id).limit(BEST_SHOWN))).scalars().all()
    return ProposalFigures(by_status, [
        BestProposal(reference("PR", row.id), pick(row.title, language), row.ratings_count,
                     round(row.ratings_sum / row.ratings_count, 2), round(row.rank_score, 2))
        for row in best])


async def workshop_figures(session: AsyncSession, lab_id: int, span: Period, language: str
                           ) -> list[WorkshopFigures]:
    w, g = m.Workshop, m.Registration
    workshops = (await session.execute(
        select(w).where(w.lab_id == lab_id, w.status == "scheduled",
                        *_within(w.starts_at, span))
        .order_by(w.starts_at, w.id))).scalars().all()
    counts: dict[int, dict[str, int]] = {row.id: {} for row in workshops}
    feedback: dict[int, tuple[int, float | None]] = {}
    for workshop_id, status, count, answered, average in await session.execute(
            select(g.workshop_id, g.status, func.count(), func.count(g.feedback_score),
                   func.avg(g.feedback_score))
            .where(g.workshop_id.in_(list(counts))).group_by(g.workshop_id, g.status)):
        counts[workshop_id][status] = count
        if status == "attended":
            feedback[workshop_id] = (answered, round(float(average), 2)
                                     if average is not None else None)
    figures = []
    for row in workshops:
        seen = counts[row.id]
        answered, average = feedback.get(row.id, (0, None))
        figures.append(WorkshopFigures(
            row.slug, pick(row.title, language), row.starts_at,
            seen.get("confirmed", 0) + seen.get("attended", 0), seen.get("attended", 0),
            answered, average))
    return figures


async def ticket_figures(session: AsyncSession, span: Period) -> TicketFigures:
    t = m.Ticket
    opened = (await session.execute(
        select(func.count()).select_from(t).where(*_within(t.created_at, span)))).scalar_one()
    closed = (await session.execute(
        select(func.count()).select_from(t).where(t.closed_at.is_not(None),
                                                  *_within(t.closed_at, span)))).scalar_one()
    satisfaction = [0] * 5
    for score, count in await session.execute(
            select(t.satisfaction, func.count())
            .where(t.satisfaction.is_not(None), t.closed_at.is_not(None),
                   *_within(t.closed_at, span))
            .group_by(t.satisfaction)):
        satisfaction[score - 1] = count
    return TicketFigures(opened, closed, tuple(satisfaction))  # type: ignore[arg-type]


async def lab_stats(session: AsyncSession, lab_id: int, span: Period, language: str
                    ) -> LabStats | None:
    lab = await session.get(m.Lab, lab_id)
    if lab is None:
        return None
    return LabStats(
        lab.slug, pick(lab.title, language), span,
        await participants(session, lab_id, span),
        await service_opinions(session, lab_id, span, language),
        await proposal_figures(session, lab_id, span, language),
        await workshop_figures(session, lab_id, span, language),
        await ticket_figures(session, span))


class SqlStats:
    """``uow.stats`` (SQL only)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lab(self, lab_id: int, span: Period, language: str) -> LabStats | None:
        return await lab_stats(self.session, lab_id, span, language)

    async def labs(self) -> list[LabRecord]:
        """Every lab, oldest first."""
        rows = (await self.session.execute(
            select(m.Lab).order_by(m.Lab.created_at, m.Lab.id))).scalars()
        return [LabRecord(r.id, r.slug, dict(r.title), dict(r.description or {}))
                for r in rows]

    async def report(self, lab_slug: str, language: str, now: datetime
                     ) -> list[Section] | None:
        """The lab's full report (:func:`storage.reports.lab_report`)."""
        return await lab_report(self.session, lab_slug, language, now)
