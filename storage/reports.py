"""Tables the staff read (``participa export``): columns plus rows of plain values.

Reports are anonymous: no citizen identifier (id, Telegram id, username,
name) and no media file id ever leaves through them. The rows hold Python
values (aware datetimes, ints); :func:`storage.export.write_table` turns
them into CSV or XLSX.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import models as m
from storage.export import Section
from storage.proposals import not_hidden

DEFAULT_LANGUAGE = "es"

OPINION_COLUMNS = ["reference", "created_at", "lab_slug", "service_slug", "service_title",
                   "rating", "comment", "media_kind", "language", "channel"]


def reference(prefix: str, number: int) -> str:
    """The reference a citizen was given (the same as conversations.text.reference)."""
    return f"{prefix}-{number:06d}"


def pick(texts: dict[str, str] | None, language: str) -> str:
    """The text in ``language``, else Spanish, else any."""
    if not texts:
        return ""
    return texts.get(language) or texts.get(DEFAULT_LANGUAGE) or next(iter(texts.values()))


def _not_hidden():  # type: ignore[no-untyped-def]
    """Opinions whose comment no moderator hid (/hide OP-123)."""
    return m.Opinion.id.not_in(select(m.HiddenContent.item_id).where(
        m.HiddenContent.kind == "opinion"))


async def opinions_table(session: AsyncSession, lab_slug: str | None,
                         language: str = "es") -> tuple[list[str], list[tuple]]:
    """Every opinion (of one lab, or of all labs) in the order they were given."""
    query = (
        # A hidden comment is left out; the rating still counts.
        select(m.Opinion.id, m.Opinion.created_at, m.Lab.slug, m.Service.slug,
               m.Service.title, m.Opinion.rating,
               case((_not_hidden(), m.Opinion.comment), else_=None),
               case((_not_hidden(), m.Opinion.media_kind), else_=None),
               m.Opinion.language, m.Opinion.channel)
        .join(m.Service, m.Service.id == m.Opinion.service_id)
        .join(m.Lab, m.Lab.id == m.Service.lab_id)
        .order_by(m.Opinion.id)
    )
    if lab_slug is not None:
        query = query.where(m.Lab.slug == lab_slug)
    rows = [
        (reference("OP", opinion_id), created_at, lab, service, pick(title, language), rating,
         comment, media_kind, opinion_language, channel)
        for (opinion_id, created_at, lab, service, title, rating, comment, media_kind,
             opinion_language, channel) in await session.execute(query)
    ]
    return list(OPINION_COLUMNS), rows


PROPOSAL_COLUMNS = ["reference", "slug", "created_at", "lab_slug", "service_slug", "title",
                    "text", "author_kind", "status", "answer", "ratings", "average",
                    "rank_score", "rated_1", "rated_2", "rated_3", "rated_4", "rated_5"]
# A proposal whose author erased their data without keeping their texts.
ERASED = "(deleted by its author)"
RATING_COLUMNS = ["proposal_reference", "proposal_slug", "lab_slug", "score", "rated_at"]


def _average(count: int, total: int) -> float | None:
    return round(total / count, 2) if count else None


async def proposals_table(session: AsyncSession, lab_slug: str | None,
                          language: str = "es") -> tuple[list[str], list[tuple]]:
    """Every proposal with its ratings summary (counts kept on the proposal row)."""
    p = m.Proposal
    query = (select(p, m.Lab.slug, m.Service.slug)
             .join(m.Lab, m.Lab.id == p.lab_id)
             .outerjoin(m.Service, m.Service.id == p.service_id)
             .where(not_hidden())
             .order_by(p.id))
    if lab_slug is not None:
        query = query.where(m.Lab.slug == lab_slug)
    rows = [
        (reference("PR", row.id), row.slug, row.created_at, lab, service,
         pick(row.title, language) or ERASED, pick(row.description, language) or ERASED,
         row.author_kind,
         row.status, pick(row.answer, language) or None, row.ratings_count,
         _average(row.ratings_count, row.ratings_sum), round(row.rank_score, 3),
         row.rated_1, row.rated_2, row.rated_3, row.rated_4, row.rated_5)
        for row, lab, service in await session.execute(query)
    ]
    return list(PROPOSAL_COLUMNS), rows


async def ratings_table(session: AsyncSession, lab_slug: str | None,
                        language: str = "es") -> tuple[list[str], list[tuple]]:
    """Every rating, anonymous (no citizen), in the order they were last given."""
    r, p = m.ProposalRating, m.Proposal
    query = (select(p.id, p.slug, m.Lab.slug, r.score, r.rated_at)
             .join(p, p.id == r.proposal_id).join(m.Lab, m.Lab.id == p.lab_id)
             .where(not_hidden())
             .order_by(r.rated_at, r.id))
    if lab_slug is not None:
        query = query.where(m.Lab.slug == lab_slug)
    rows = [(reference("PR", proposal_id), slug, lab, score, rated_at)
            for proposal_id, slug, lab, score, rated_at in await session.execute(query)]
    return list(RATING_COLUMNS), rows


async def proposals_section(session: AsyncSession, lab_id: int, language: str) -> Section:
    """The lab's proposals for the report: best ranked first, with status and answer."""
    p = m.Proposal
    found = (await session.execute(
        select(p).where(p.lab_id == lab_id, p.status != "pending", not_hidden())
        .order_by(p.rank_score.desc(), p.id))).scalars().all()
    return Section(
        "Proposals",
        ["reference", "title", "author_kind", "status", "answer", "ratings", "average",
         "rated_1", "rated_2", "rated_3", "rated_4", "rated_5"],
        [(reference("PR", row.id), pick(row.title, language) or ERASED, row.author_kind,
          row.status,
          pick(row.answer, language) or None, row.ratings_count,
          _average(row.ratings_count, row.ratings_sum), row.rated_1, row.rated_2, row.rated_3,
          row.rated_4, row.rated_5) for row in found])


async def lab_report(session: AsyncSession, lab_slug: str, language: str, now: datetime,
                     ) -> list[Section] | None:
    """The lab's report for the results event: totals, opinions by service with
    their average and distribution, and the comments, anonymous. None when
    there is no such lab. Then the proposals (all but those waiting for
    moderation), the commitments, the workshops (when the lab has any) and
    the tickets with their satisfaction."""
    lab = (await session.execute(select(m.Lab).where(m.Lab.slug == lab_slug))
           ).scalar_one_or_none()
    if lab is None:
        return None
    services = (await session.execute(
        select(m.Service).where(m.Service.lab_id == lab.id)
        .order_by(m.Service.position, m.Service.id))).scalars().all()
    counts = (await session.execute(
        select(m.Opinion.service_id, m.Opinion.rating, func.count())
        .join(m.Service, m.Service.id == m.Opinion.service_id)
        .where(m.Service.lab_id == lab.id)
        .group_by(m.Opinion.service_id, m.Opinion.rating))).all()
    by_service: dict[int, list[int]] = {s.id: [0] * 5 for s in services}
    for service_id, rating, count in counts:
        by_service[service_id][rating - 1] = count
    participants, opinions = (await session.execute(
        select(func.count(func.distinct(m.Opinion.citizen_id)), func.count(m.Opinion.id))
        .join(m.Service, m.Service.id == m.Opinion.service_id)
        .where(m.Service.lab_id == lab.id))).one()

    def average(distribution: list[int]) -> float | None:
        total = sum(distribution)
        if not total:
            return None
        return round(sum((n + 1) * c for n, c in enumerate(distribution)) / total, 2)

    everything = [sum(c) for c in zip(*by_service.values(), strict=True)] if services else []
    proposals = (await session.execute(
        select(func.count()).select_from(m.Proposal)
        .where(m.Proposal.lab_id == lab.id, m.Proposal.status != "pending"))).scalar_one()
    workshops = (await session.execute(
        select(func.count()).select_from(m.Workshop)
        .where(m.Workshop.lab_id == lab.id, m.Workshop.status == "scheduled"))).scalar_one()
    tickets = await tickets_section(session)
    summary = Section("Summary", ["item", "value"], [
        ("lab", pick(lab.title, language)),
        ("generated_at", now),
        ("participants", participants),  # erased citizens' opinions stay, unlinked
        ("opinions", opinions),
        ("average_rating", average(everything) if everything else None),
        ("proposals", proposals),
        ("workshops", workshops),
        ("tickets", dict(tickets.rows)["opened"]),
    ])
    per_service = Section(
        "Opinions by service",
        ["service_slug", "service", "opinions", "average", "rated_1", "rated_2", "rated_3",
         "rated_4", "rated_5"],
        [(s.slug, pick(s.title, language), sum(by_service[s.id]), average(by_service[s.id]),
          *by_service[s.id]) for s in services])
    comments = (await session.execute(
        select(m.Service.slug, m.Opinion.rating, m.Opinion.created_at, m.Opinion.comment)
        .join(m.Service, m.Service.id == m.Opinion.service_id)
        .where(m.Service.lab_id == lab.id, m.Opinion.comment.is_not(None), _not_hidden())
        .order_by(m.Service.position, m.Opinion.created_at))).all()
    return [summary, per_service,
            Section("Comments", ["service_slug", "rating", "created_at", "comment"],
                    [tuple(row) for row in comments]),
            await proposals_section(session, lab.id, language),
            await commitments_section(session, lab.id, language),
            *await workshop_sections(session, lab.id, language),
            tickets]


async def commitments_section(session: AsyncSession, lab_id: int, language: str) -> Section:
    """What the administration committed to: the accepted and implemented
    proposals with its answer, the ones done first."""
    p = m.Proposal
    found = (await session.execute(
        select(p).where(p.lab_id == lab_id, p.status.in_(("implemented", "accepted")))
        .order_by(p.status.desc(), p.status_changed_at, p.id))).scalars().all()
    return Section(
        "Commitments", ["reference", "title", "status", "since", "answer", "ratings", "average"],
        [(reference("PR", row.id), pick(row.title, language) or ERASED, row.status,
          row.status_changed_at, pick(row.answer, language) or None, row.ratings_count,
          _average(row.ratings_count, row.ratings_sum)) for row in found])


async def tickets_section(session: AsyncSession) -> Section:
    """Questions to the team and how satisfied people were with the answers.
    A ticket belongs to no lab: these are the whole bot's figures."""
    t = m.Ticket
    by_status = dict.fromkeys(m.TICKET_STATUSES, 0)
    for status, count in await session.execute(
            select(t.status, func.count()).group_by(t.status)):
        by_status[status] = count
    answers, average = (await session.execute(
        select(func.count(t.satisfaction), func.avg(t.satisfaction)))).one()
    rows: list[tuple[str, object]] = [
        ("scope", "all laboratories"),
        ("opened", sum(by_status.values())),
        *((status, count) for status, count in by_status.items()),
        ("satisfaction_answers", answers),
        ("satisfaction_average", round(float(average), 2) if average is not None else None),
    ]
    return Section("Tickets", ["item", "value"], rows)


async def workshop_sections(session: AsyncSession, lab_id: int, language: str
                            ) -> list[Section]:
    """Sign-ups, attendance and feedback per workshop, and the feedback comments
    (anonymous). Cancelled seats are not counted; erased attendees still are."""
    workshops = (await session.execute(
        select(m.Workshop).where(m.Workshop.lab_id == lab_id)
        .order_by(m.Workshop.starts_at, m.Workshop.id))).scalars().all()
    if not workshops:
        return []
    counts = (await session.execute(
        select(m.Registration.workshop_id, m.Registration.status, func.count(),
               func.avg(m.Registration.feedback_score), func.count(m.Registration.feedback_score))
        .join(m.Workshop, m.Workshop.id == m.Registration.workshop_id)
        .where(m.Workshop.lab_id == lab_id)
        .group_by(m.Registration.workshop_id, m.Registration.status))).all()
    by_workshop: dict[int, dict[str, int]] = {w.id: {} for w in workshops}
    feedback: dict[int, tuple[float | None, int]] = {}
    for workshop_id, status, count, average, answered in counts:
        by_workshop[workshop_id][status] = count
        if status == "attended":
            feedback[workshop_id] = (round(float(average), 2) if average is not None
                                     else None, answered)
    rows = []
    for w in workshops:
        seen = by_workshop[w.id]
        signed_up = seen.get("confirmed", 0) + seen.get("attended", 0)
        average, answered = feedback.get(w.id, (None, 0))
        rows.append((w.slug, pick(w.title, language), w.starts_at, w.status, w.capacity,
                     signed_up, seen.get("waitlisted", 0) + seen.get("offered", 0),
                     seen.get("attended", 0), answered, average))
    comments = (await session.execute(
        select(m.Workshop.slug, m.Registration.feedback_score, m.Registration.feedback_comment)
        .join(m.Workshop, m.Workshop.id == m.Registration.workshop_id)
        .where(m.Workshop.lab_id == lab_id, m.Registration.feedback_comment.is_not(None))
        .order_by(m.Workshop.starts_at, m.Registration.id))).all()
    return [
        Section("Workshops", ["workshop_slug", "workshop", "starts_at", "status", "capacity",
                              "signed_up", "waiting", "attended", "feedback_answers",
                              "feedback_average"], rows),
        Section("Workshop feedback", ["workshop_slug", "score", "comment"],
                [tuple(row) for row in comments]),
    ]


ATTENDEE_COLUMNS = ["name", "username", "status", "signed_up_at", "attended_at",
                    "feedback_score", "feedback_comment"]


async def attendees_table(session: AsyncSession, workshop_id: int, language: str = "es", *,
                          include_sensitive: bool = False) -> tuple[list[str], list[tuple]]:
    """Who signed up for a workshop, for the staff at the door: names (the one
    table with names, for the organisers only), status, answers. Sensitive
    answers only when asked for (``include_sensitive``)."""
    questions = (await session.execute(
        select(m.WorkshopQuestion).where(m.WorkshopQuestion.workshop_id == workshop_id)
        .order_by(m.WorkshopQuestion.position))).scalars().all()
    shown = [q for q in questions if include_sensitive or not q.sensitive]
    registrations = (await session.execute(
        select(m.Registration, m.Citizen.first_name, m.Citizen.username)
        .outerjoin(m.Citizen, m.Citizen.id == m.Registration.citizen_id)
        .where(m.Registration.workshop_id == workshop_id,
               m.Registration.status != "cancelled")
        .order_by(m.Registration.status, m.Citizen.first_name, m.Registration.id))).all()
    ids = [r.id for r, _, _ in registrations]
    answers: dict[tuple[int, int], str] = {}
    models = [m.RegistrationAnswer] + ([m.SensitiveAnswer] if include_sensitive else [])
    for model in models:
        for registration_id, question_id, answer in await session.execute(
                select(model.registration_id, model.question_id, model.answer)
                .where(model.registration_id.in_(ids))):
            answers[(registration_id, question_id)] = answer
    columns = list(ATTENDEE_COLUMNS) + [
        pick(q.prompt, language) + (" (sensitive)" if q.sensitive else "") for q in shown]
    rows = [(name, username, r.status, r.created_at, r.attended_at, r.feedback_score,
             r.feedback_comment, *(answers.get((r.id, q.id)) for q in shown))
            for r, name, username in registrations]
    return columns, rows
