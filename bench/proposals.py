"""Proposals at the size of a busy lab: a list page and a detail view, timed.

    .venv/bin/python bench/proposals.py [--proposals 10000] [--ratings 100000]
        [--runs 300] [--database-url postgresql://...]

Loads ``--proposals`` proposals (one lab, eight services, nine in ten
visible) and ``--ratings`` ratings by 20,000 citizens (bulk inserts, the
aggregates computed once), then times through the repository, each run in
its own unit of work as the engine does it:

* a list page (5 proposals): newest first, best rated first, best rated
  within one service, and the last page (the deepest OFFSET);
* a detail view with live results: the proposal with its distribution and
  the citizen's own rating.

Prints the median and the 95th percentile of each (target < 20 ms). SQLite
in a temporary file always; PostgreSQL too with ``--database-url`` or
TEST_DATABASE_URL (a throwaway database is created on that server and dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storage import migrate
from storage import models as m
from storage.database import create_engine, session_factory
from storage.proposals import rank_score
from storage.sql import SqlUnitOfWork
from tests import services

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
CITIZENS = 20_000
SERVICES = 8
BATCH = 5_000
TARGET_MS = 20.0


async def load(sessions, proposals: int, ratings: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """Bulk-load the lab; (lab id, a rated proposal's id)."""
    rng = random.Random(7)
    async with sessions() as session:
        lab = m.Lab(slug="bench", title={"es": "Banco"}, description={}, created_at=NOW)
        session.add(lab)
        await session.flush()
        session.add(m.LabPhase(lab_id=lab.id, phase="ratings", opens_at=NOW - timedelta(days=1)))
        services_ = [m.Service(lab_id=lab.id, slug=f"s{n}", title={"es": f"Servicio {n}"},
                               description={}, position=n) for n in range(SERVICES)]
        session.add_all(services_)
        await session.flush()
        lab_id, service_ids = lab.id, [s.id for s in services_]
        for start in range(0, CITIZENS, BATCH):
            await session.execute(insert(m.Citizen), [
                {"id": n + 1, "telegram_id": 1_000_000 + n, "language": "es",
                 "first_seen": NOW, "last_seen": NOW, "blocked_bot": False}
                for n in range(start, min(start + BATCH, CITIZENS))])
        # Skewed popularity: a few proposals get many ratings, most a handful.
        weights = [1.0 / (rank + 1) ** 0.8 for rank in range(proposals)]
        rng.shuffle(weights)
        total_weight = sum(weights)
        per_proposal = [min(int(ratings * w / total_weight), CITIZENS) for w in weights]
        per_proposal[0] += ratings - sum(per_proposal)
        rating_rows, proposal_rows = [], []
        for index in range(proposals):
            proposal_id = index + 1
            raters = rng.sample(range(1, CITIZENS + 1), per_proposal[index])
            bias = rng.choice((2, 3, 4))
            distribution = [0] * 5
            for citizen_id in raters:
                score = min(max(bias + rng.choice((-1, 0, 0, 1, 1)), 1), 5)
                distribution[score - 1] += 1
                rating_rows.append({"proposal_id": proposal_id, "citizen_id": citizen_id,
                                    "score": score, "rated_at": NOW})
            count = sum(distribution)
            total = sum((s + 1) * n for s, n in enumerate(distribution))
            created = NOW - timedelta(minutes=proposals - index)
            proposal_rows.append({
                "id": proposal_id, "slug": f"p-{proposal_id}", "lab_id": lab_id,
                "service_id": service_ids[index % SERVICES] if index % 5 else None,
                "title": {"es": f"Propuesta {proposal_id}"},
                "description": {"es": "Texto de la propuesta. " * 20},
                "author_kind": "citizen", "citizen_id": None, "language": "es",
                "status": "pending" if index % 10 == 9 else "published", "answer": {},
                **{f"rated_{s + 1}": n for s, n in enumerate(distribution)},
                "ratings_count": count, "ratings_sum": total,
                "rank_score": rank_score(count, total), "created_at": created,
                "updated_at": created, "status_changed_at": created})
        for start in range(0, len(proposal_rows), BATCH):
            await session.execute(insert(m.Proposal), proposal_rows[start:start + BATCH])
        for start in range(0, len(rating_rows), BATCH):
            await session.execute(insert(m.ProposalRating), rating_rows[start:start + BATCH])
        await session.commit()
        popular = max(range(proposals), key=lambda i: per_proposal[i]) + 1
        return lab_id, popular


async def timed(runs: int, work: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    for _ in range(10):  # warm the pool and the caches
        await work()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await work()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


async def bench(url: str, name: str, args: argparse.Namespace) -> None:
    await asyncio.to_thread(migrate.upgrade, url, "head")
    db = create_engine(url)
    sessions = session_factory(db)
    try:
        started = time.perf_counter()
        lab_id, popular = await load(sessions, args.proposals, args.ratings)
        print(f"{name}: loaded {args.proposals:,} proposals and {args.ratings:,} ratings in "
              f"{time.perf_counter() - started:.1f} s")
        async with db.begin() as connection:  # fresh statistics, as autovacuum would
            await connection.exec_driver_sql("ANALYZE")
        async with SqlUnitOfWork(sessions) as uow:
            total = (await uow.proposals.page(lab_id, None, "newest", 0, 5)).total
            service = (await uow.catalog.services(lab_id))[0].id
        last = (total - 1) // 5

        def page(service_id: int | None, order: str, number: int):  # type: ignore[no-untyped-def]
            async def run() -> None:
                async with SqlUnitOfWork(sessions) as uow:
                    found = await uow.proposals.page(lab_id, service_id, order, number, 5)
                    assert found.items
            return run

        async def detail() -> None:
            async with SqlUnitOfWork(sessions) as uow:
                proposal = await uow.proposals.visible(popular)
                assert proposal is not None and proposal.ratings.count
                await uow.proposals.my_rating(popular, 1)
                await uow.catalog.labs_open_for("ratings", NOW)

        cases = [
            ("list page, newest first", page(None, "newest", 0)),
            ("list page, best rated first", page(None, "best", 0)),
            ("list page, best rated, one service", page(service, "best", 0)),
            (f"list page, last page ({last + 1:,})", page(None, "newest", last)),
            ("detail view with live results", detail),
        ]
        for label, work in cases:
            median, p95 = await timed(args.runs, work)
            verdict = "ok" if p95 < TARGET_MS else "OVER TARGET"
            print(f"{name}: {label:<40} median {median:6.2f} ms   p95 {p95:6.2f} ms   {verdict}")
    finally:
        await db.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--proposals", type=int, default=10_000)
    parser.add_argument("--ratings", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        await bench(f"sqlite+aiosqlite:///{folder}/bench.db", "sqlite", args)
    if args.database_url:
        # Creating and dropping the database runs its own event loop: in a thread.
        throwaway = services.throwaway_postgres(args.database_url)
        url = await asyncio.to_thread(throwaway.__enter__)
        try:
            await bench(url, "postgresql", args)
        finally:
            await asyncio.to_thread(throwaway.__exit__, None, None, None)


if __name__ == "__main__":
    asyncio.run(main())
