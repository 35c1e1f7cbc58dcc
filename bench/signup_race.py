"""Many citizens press "Sign up" at once for a few seats: nobody is overbooked.

    .venv/bin/python bench/signup_race.py [--signups 2000] [--seats 50]
        [--database-url postgresql://...] [--only postgresql,sqlite]

Each sign-up is its own transaction through the unit of work the bot uses
(one conditional ``UPDATE ... WHERE taken < capacity RETURNING`` plus the
registration row). Prints confirmed, waitlisted, overbooked (must be 0) and
the time, on PostgreSQL (``--database-url`` or TEST_DATABASE_URL: a
throwaway database is created and dropped) and on a temporary SQLite file
(BEGIN IMMEDIATE and WAL: sign-ups wait for each other instead of failing).
Target: 2,000 sign-ups for 50 seats in under 5 s on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storage import migrate
from storage import models as m
from storage.database import create_engine, session_factory
from storage.sql import SqlUnitOfWork
from tests import services
from tests.workshop_fixtures import add_citizens, add_workshop

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@contextlib.asynccontextmanager
async def database(kind: str, server: str | None) -> AsyncIterator[str]:
    if kind == "postgresql":
        assert server is not None
        throwaway = services.throwaway_postgres(server)
        url = await asyncio.to_thread(throwaway.__enter__)
        try:
            await asyncio.to_thread(migrate.upgrade, url)
            yield url
        finally:
            await asyncio.to_thread(throwaway.__exit__, None, None, None)
        return
    with tempfile.TemporaryDirectory() as folder:
        url = services.sqlite_url(Path(folder))
        await asyncio.to_thread(migrate.upgrade, url)
        yield url


async def race(url: str, signups: int, seats: int) -> dict[str, object]:
    engine = create_engine(url, pool_size=20)
    sessions = session_factory(engine)
    try:
        workshop_id = await add_workshop(sessions, NOW, capacity=seats)
        citizens = await add_citizens(sessions, NOW, signups)

        async def sign_up(citizen_id: int) -> str:
            async with SqlUnitOfWork(sessions) as uow:
                outcome = (await uow.workshops.sign_up(workshop_id, citizen_id, NOW)).outcome
                await uow.commit()
                return outcome

        started = time.perf_counter()
        outcomes = Counter(await asyncio.gather(*(sign_up(c) for c in citizens)))
        elapsed = time.perf_counter() - started
        async with sessions() as session:
            confirmed_rows = await session.scalar(
                select(func.count()).select_from(m.Registration)
                .where(m.Registration.status == "confirmed"))
            taken = await session.scalar(select(m.Workshop.taken))
    finally:
        await engine.dispose()
    return {"confirmed": outcomes["confirmed"], "waitlisted": outcomes["waitlisted"],
            "other": sum(outcomes.values()) - outcomes["confirmed"] - outcomes["waitlisted"],
            "overbooked": max(int(confirmed_rows or 0), int(taken or 0)) - seats
            if max(int(confirmed_rows or 0), int(taken or 0)) > seats else 0,
            "seconds": round(elapsed, 2)}


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signups", type=int, default=2000)
    parser.add_argument("--seats", type=int, default=50)
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument("--only", default="postgresql,sqlite")
    args = parser.parse_args()
    failed = False
    for kind in args.only.split(","):
        if kind == "postgresql" and not args.database_url:
            print("postgresql: skipped (no --database-url or TEST_DATABASE_URL)")
            continue
        async with database(kind, args.database_url) as url:
            result = await race(url, args.signups, args.seats)
        print(f"{kind}: {args.signups} sign-ups for {args.seats} seats: "
              f"confirmed {result['confirmed']}, waitlisted {result['waitlisted']}, "
              f"other {result['other']}, overbooked {result['overbooked']}, "
              f"{result['seconds']} s")
        failed = failed or result["overbooked"] != 0 or result["confirmed"] != args.seats
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
