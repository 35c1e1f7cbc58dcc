"""Ratings under concurrency, on SQLite and PostgreSQL (TEST_DATABASE_URL): a
double tap never makes two rows, many citizens at once never lose one, and
the totals kept on the proposal always match the rows."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from storage import models as m
from storage.sql import SqlUnitOfWork
from tests.harness import NOW, Person, make_engine
from tests.proposals_fixtures import add_lab, add_proposals, rows

CITIZENS = 24


async def make_citizens(backend, count: int) -> list[int]:  # type: ignore[no-untyped-def]
    async with backend.sessions() as session:
        people = [m.Citizen(telegram_id=90_000 + n, language="es", first_seen=NOW,
                            last_seen=NOW) for n in range(count)]
        session.add_all(people)
        await session.commit()
        return [p.id for p in people]


async def rate(backend, proposal_id: int, citizen_id: int, score: int) -> None:  # type: ignore[no-untyped-def]
    async with SqlUnitOfWork(backend.sessions) as uow:
        assert await uow.proposals.rate(proposal_id, citizen_id, score, NOW) is not None
        await uow.commit()


async def assert_totals_match_rows(backend, proposal_id: int) -> None:  # type: ignore[no-untyped-def]
    async with backend.sessions() as session:
        by_score = dict((await session.execute(
            select(m.ProposalRating.score, func.count())
            .where(m.ProposalRating.proposal_id == proposal_id)
            .group_by(m.ProposalRating.score))).all())
        proposal = await session.get(m.Proposal, proposal_id)
    assert proposal is not None
    kept = [proposal.rated_1, proposal.rated_2, proposal.rated_3, proposal.rated_4,
            proposal.rated_5]
    assert kept == [by_score.get(score, 0) for score in range(1, 6)]
    assert proposal.ratings_count == sum(kept)
    assert proposal.ratings_sum == sum(score * n for score, n in by_score.items())


async def test_many_citizens_rating_at_once_lose_nothing(sql_backend):  # type: ignore[no-untyped-def]
    lab = await add_lab(sql_backend.sessions)
    [proposal] = await add_proposals(sql_backend.sessions, lab, 1)
    citizens = await make_citizens(sql_backend, CITIZENS)
    await asyncio.gather(*(rate(sql_backend, proposal, c, 1 + n % 5)
                           for n, c in enumerate(citizens)))
    ratings = await rows(sql_backend.sessions, m.ProposalRating)
    assert sorted(r["citizen_id"] for r in ratings) == sorted(citizens)
    await assert_totals_match_rows(sql_backend, proposal)


async def test_a_double_tap_never_makes_two_rows(sql_backend):  # type: ignore[no-untyped-def]
    lab = await add_lab(sql_backend.sessions)
    [proposal] = await add_proposals(sql_backend.sessions, lab, 1)
    citizens = await make_citizens(sql_backend, CITIZENS // 2)
    # Each citizen taps twice at the same moment (two different scores), all at once.
    await asyncio.gather(*(rate(sql_backend, proposal, c, score)
                           for c in citizens for score in (2, 5)))
    ratings = await rows(sql_backend.sessions, m.ProposalRating)
    assert sorted(r["citizen_id"] for r in ratings) == sorted(citizens)
    assert {r["score"] for r in ratings} <= {2, 5}
    await assert_totals_match_rows(sql_backend, proposal)


async def test_citizens_rating_through_the_engine_at_once(sql_backend):  # type: ignore[no-untyped-def]
    lab = await add_lab(sql_backend.sessions)
    await add_proposals(sql_backend.sessions, lab, 1)
    engine = make_engine(sql_backend)
    people = [Person(engine, id=70_000 + n, username=f"u{n}") for n in range(8)]
    for person in people:
        await person.consent()
        await person.press("Proposals")
        await person.press("All proposals")
        await person.press("1. Proposal 1")
    await asyncio.gather(*(person.press("4") for person in people))
    ratings = await rows(sql_backend.sessions, m.ProposalRating)
    assert len(ratings) == 8 and {r["score"] for r in ratings} == {4}
    [stored] = await rows(sql_backend.sessions, m.Proposal)
    assert (stored["ratings_count"], stored["rated_4"]) == (8, 8)
    assert all("4 ✓" in p.labels() for p in people)
