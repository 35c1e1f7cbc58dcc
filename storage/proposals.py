"""Proposals and their ratings (SQL only: uniqueness and aggregates rest on the database).

Rating is an upsert on ``proposal_ratings`` (unique per proposal and
citizen) plus a change of the aggregates kept on the proposal row. All of
it runs after the proposal row is locked by a conditional UPDATE (which
also proves the proposal is still visible): two ratings of the same
proposal, by one citizen's double tap or by many citizens at once, take
turns on that row, so the previous score read under the lock is the one
the upsert replaces and no increment is lost. On SQLite the transaction
holds the database's write lock already; the statement order is the same.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import models as m
from storage.records import (
    VISIBLE_STATUSES,
    NewProposal,
    ParticipationItem,
    ProposalPage,
    ProposalRecord,
    Ratings,
    Recipient,
    StatusChange,
)
from storage.upsert import insert_for

VISIBLE = VISIBLE_STATUSES

# Bayesian average: every proposal starts as if PRIOR_WEIGHT citizens had
# rated it PRIOR_MEAN (the middle of the scale), so one 5 (3.33) ranks
# below ten 4s (3.67). Fixed numbers keep the score a column that can be
# indexed and updated with each rating.
PRIOR_MEAN = 3.0
PRIOR_WEIGHT = 5

ORDERS = ("newest", "best")

_SCORE_COLUMNS = ("rated_1", "rated_2", "rated_3", "rated_4", "rated_5")


def not_hidden() -> ColumnElement[bool]:
    """A proposal a moderator has not hidden (``/hide PR-45``): hidden ones leave
    lists, detail views, exports and reports; their ratings stay stored."""
    # NOT IN over the (few) hidden ones: one hashed lookup per row, which
    # keeps the list pages' index-ordered scans (a NOT EXISTS anti-join made
    # PostgreSQL's first pages about twice as slow in bench/proposals.py).
    return m.Proposal.id.not_in(select(m.HiddenContent.item_id).where(
        m.HiddenContent.kind == "proposal"))


def rank_score(count: int, total: int) -> float:
    return (PRIOR_MEAN * PRIOR_WEIGHT + total) / (PRIOR_WEIGHT + count)


def _record(row: Any) -> ProposalRecord:
    return ProposalRecord(
        id=row.id, slug=row.slug, lab_id=row.lab_id, service_id=row.service_id,
        title=dict(row.title or {}), description=dict(row.description or {}),
        author_kind=row.author_kind, status=row.status, answer=dict(row.answer or {}),
        ratings=Ratings((row.rated_1, row.rated_2, row.rated_3, row.rated_4, row.rated_5)),
        created_at=row.created_at, citizen_id=row.citizen_id)


class SqlProposals:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- reading ------------------------------------------------------------

    async def page(self, lab_id: int, service_id: int | None, order: str, page: int,
                   per_page: int) -> ProposalPage:
        """One page of a lab's visible proposals (or one service's), newest or best first."""
        p = m.Proposal
        where = [p.status.in_(VISIBLE)]
        # Filtering on the service alone (it belongs to the lab) lets the
        # service indexes serve the order too.
        where.append(p.service_id == service_id if service_id is not None
                     else p.lab_id == lab_id)
        # Hidden proposals are few (moderators hide them one by one): read
        # their ids once and leave them out by value. A per-row subquery made
        # PostgreSQL give up the index order for a sort of the whole lab
        # (bench/proposals.py: the last page twice as slow).
        hidden = list((await self.session.execute(select(m.HiddenContent.item_id).where(
            m.HiddenContent.kind == "proposal"))).scalars())
        if hidden:
            where.append(p.id.not_in(hidden))
        total = (await self.session.execute(
            select(func.count()).select_from(p).where(*where))).scalar_one()
        ordering = ((p.rank_score.desc(), p.id.desc()) if order == "best"
                    else (p.created_at.desc(), p.id.desc()))
        rows = (await self.session.execute(
            select(p).where(*where).order_by(*ordering)
            .offset(max(page, 0) * per_page).limit(per_page))).scalars().all()
        return ProposalPage([_record(r) for r in rows], total)

    async def visible(self, proposal_id: int) -> ProposalRecord | None:
        row = (await self.session.execute(select(m.Proposal).where(
            m.Proposal.id == proposal_id, m.Proposal.status.in_(VISIBLE),
            not_hidden()))).scalar_one_or_none()
        return _record(row) if row else None

    async def get(self, proposal_id: int) -> ProposalRecord | None:
        """A proposal whatever its status (moderation reads pending ones)."""
        row = await self.session.get(m.Proposal, proposal_id)
        return _record(row) if row else None

    async def lock_pending(self, proposal_id: int) -> ProposalRecord | None:
        """The proposal, locked, while it still waits for moderation; None once
        someone published or rejected it (two moderators at once: one wins)."""
        row = (await self.session.execute(
            select(m.Proposal).where(m.Proposal.id == proposal_id,
                                     m.Proposal.status == "pending")
            .with_for_update().execution_options(populate_existing=True))
        ).scalar_one_or_none()
        return _record(row) if row else None

    async def is_hidden(self, proposal_id: int) -> bool:
        return (await self.session.execute(select(m.HiddenContent.id).where(
            m.HiddenContent.kind == "proposal",
            m.HiddenContent.item_id == proposal_id))).first() is not None

    async def by_slug(self, slug: str) -> ProposalRecord | None:
        """A proposal by its slug, visible or not (the deep link decides)."""
        row = (await self.session.execute(select(m.Proposal).where(
            m.Proposal.slug == slug))).scalar_one_or_none()
        return _record(row) if row else None

    async def my_rating(self, proposal_id: int, citizen_id: int) -> int | None:
        return (await self.session.execute(select(m.ProposalRating.score).where(
            m.ProposalRating.proposal_id == proposal_id,
            m.ProposalRating.citizen_id == citizen_id))).scalar_one_or_none()

    # -- rating ---------------------------------------------------------------

    async def rate(self, proposal_id: int, citizen_id: int, score: int,
                   now: datetime) -> ProposalRecord | None:
        """Rate or re-rate; the proposal with its new aggregates, or None if not visible."""
        if not 1 <= score <= 5:
            raise ValueError("a score is 1 to 5")
        p, r = m.Proposal, m.ProposalRating
        # The lock (see the module's docstring): a no-op UPDATE of a visible row.
        locked = await self.session.execute(
            update(p).where(p.id == proposal_id, p.status.in_(VISIBLE), not_hidden())
            .values(updated_at=p.updated_at).execution_options(synchronize_session=False))
        if not locked.rowcount:
            return None
        previous = await self.my_rating(proposal_id, citizen_id)
        await self.session.execute(
            insert_for(self.session, r)
            .values(proposal_id=proposal_id, citizen_id=citizen_id, score=score, rated_at=now)
            .on_conflict_do_update(index_elements=["proposal_id", "citizen_id"],
                                   set_={"score": score, "rated_at": now}))
        if previous != score:
            changes: dict[str, Any] = {f"rated_{score}": getattr(p, f"rated_{score}") + 1}
            new_count = p.ratings_count + (0 if previous else 1)
            new_sum = p.ratings_sum + score - (previous or 0)
            if previous:
                changes[f"rated_{previous}"] = getattr(p, f"rated_{previous}") - 1
            changes.update(ratings_count=new_count, ratings_sum=new_sum,
                           rank_score=(PRIOR_MEAN * PRIOR_WEIGHT + new_sum)
                           / (PRIOR_WEIGHT + new_count))
            await self.session.execute(update(p).where(p.id == proposal_id).values(**changes)
                                       .execution_options(synchronize_session=False))
        row = (await self.session.execute(
            select(p).where(p.id == proposal_id)
            .execution_options(populate_existing=True))).scalar_one()
        return _record(row)

    # -- submitting -----------------------------------------------------------

    async def submit(self, proposal: NewProposal) -> int:
        """Store a citizen's proposal, pending moderation; its id is its reference."""
        row = m.Proposal(
            # A unique placeholder until the id is known; then the reference.
            slug=f"new-{proposal.citizen_id}-{proposal.created_at.timestamp():.6f}",
            lab_id=proposal.lab_id, service_id=proposal.service_id,
            title={proposal.language: proposal.title},
            description={proposal.language: proposal.description},
            author_kind="citizen", citizen_id=proposal.citizen_id,
            language=proposal.language, status="pending", answer={},
            rated_1=0, rated_2=0, rated_3=0, rated_4=0, rated_5=0, ratings_count=0,
            ratings_sum=0, rank_score=PRIOR_MEAN, created_at=proposal.created_at,
            updated_at=proposal.created_at, status_changed_at=proposal.created_at)
        self.session.add(row)
        await self.session.flush()
        row.slug = f"pr-{row.id:06d}"
        await self.session.flush()
        return row.id

    async def submitted_since(self, citizen_id: int, since: datetime) -> int:
        return (await self.session.execute(select(func.count()).where(
            m.Proposal.citizen_id == citizen_id, m.Proposal.created_at >= since))).scalar_one()

    # -- status ---------------------------------------------------------------

    async def change_status(self, slug: str, status: str, answer: dict[str, str] | None,
                            now: datetime) -> StatusChange | None:
        """Set the status (and the answer, when given); who to tell. None: no such slug."""
        if status not in m.PROPOSAL_STATUSES:
            raise ValueError(f"unknown status {status!r}")
        p = m.Proposal
        previous = (await self.session.execute(
            select(p.status).where(p.slug == slug).with_for_update())).scalar_one_or_none()
        if previous is None:
            return None
        values: dict[str, Any] = {"status": status, "updated_at": now}
        if status != previous:
            # A new status without a reason drops the old one's (a rejection's
            # reason would be wrong under "accepted").
            values.update(status_changed_at=now, answer=answer or {})
        elif answer is not None:
            values["answer"] = answer
        await self.session.execute(update(p).where(p.slug == slug).values(**values)
                                   .execution_options(synchronize_session=False))
        proposal = await self.by_slug(slug)
        assert proposal is not None
        return StatusChange(proposal, previous, await self.recipients(proposal.id))

    async def recipients(self, proposal_id: int) -> list[Recipient]:
        """Its author and raters who keep "updates on what I took part in" on
        (no preferences row means the default: on) and their consent."""
        c, prefs = m.Citizen, m.NotificationPreferences
        took_part = or_(
            c.id.in_(select(m.Proposal.citizen_id).where(m.Proposal.id == proposal_id)),
            c.id.in_(select(m.ProposalRating.citizen_id).where(
                m.ProposalRating.proposal_id == proposal_id)))
        consented = select(m.Consent.id).where(
            m.Consent.citizen_id == c.id, m.Consent.purpose == "privacy",
            m.Consent.withdrawn_at.is_(None)).exists()
        rows = await self.session.execute(
            select(c.id, c.telegram_id, c.language)
            .outerjoin(prefs, prefs.citizen_id == c.id)
            .where(took_part, consented,
                   or_(prefs.citizen_id.is_(None), prefs.participation_updates.is_(True)))
            .order_by(c.id))
        return [Recipient(*row) for row in rows]

    # -- a citizen's own ------------------------------------------------------

    async def participation(self, citizen_id: int) -> list[ParticipationItem]:
        """Their opinions, proposals and ratings, newest first."""
        o, s, p, r = m.Opinion, m.Service, m.Proposal, m.ProposalRating
        items = [ParticipationItem("opinion", number, dict(title), None, rating, at)
                 for number, title, rating, at in await self.session.execute(
                     select(o.id, s.title, o.rating, o.created_at)
                     .join(s, s.id == o.service_id).where(o.citizen_id == citizen_id))]
        # A proposal a moderator hid reads "hidden" to those who took part in it.
        status = case((~not_hidden(), "hidden"), else_=p.status)
        items += [ParticipationItem("proposal", number, dict(title), shown, None, at)
                  for number, title, shown, at in await self.session.execute(
                      select(p.id, p.title, status, p.created_at)
                      .where(p.citizen_id == citizen_id))]
        items += [ParticipationItem("rating", number, dict(title), shown, score, at)
                  for number, title, shown, score, at in await self.session.execute(
                      select(p.id, p.title, status, r.score, r.rated_at)
                      .join(p, p.id == r.proposal_id).where(r.citizen_id == citizen_id))]
        return sorted(items, key=lambda item: (item.at, item.number), reverse=True)
