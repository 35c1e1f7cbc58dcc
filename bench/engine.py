"""Events per second of the engine in process: in-memory unit of work, SQLite
and, given a server, PostgreSQL.

Many citizens go through the whole opinion journey at once (consent, then
opinions: menu → service → rating → comment → send). No network but the
database's: this is the engine, the flows and storage, nothing else. The CPU
time per event is this process's (the PostgreSQL server's is not in it).

    .venv/bin/python bench/engine.py [--citizens 200] [--opinions 5]
        [--database-url postgresql://...]   (default: TEST_DATABASE_URL)
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from conversations.engine import Engine
from conversations.settings import FlowSettings
from conversations.vocabulary import Chat, Event, Send, Who
from storage.database import create_engine, session_factory
from storage.memory import MemoryStore, MemoryUnitOfWork
from storage.models import Base, Lab, LabPhase, Service
from storage.sql import SqlUnitOfWork
from tests import services

NOW = datetime(2026, 11, 24, 10, tzinfo=UTC)
SERVICES = [f"Service {n}" for n in range(8)]
update_ids = itertools.count(1)


async def citizen_journey(engine: Engine, user_id: int, opinions: int) -> int:
    """Consent, then give ``opinions`` opinions; returns the number of events sent."""
    who, chat = Who(user_id, f"u{user_id}", "en"), Chat(user_id)
    screen: list = []
    events = 0

    async def send(kind: str, **fields) -> None:  # type: ignore[no-untyped-def]
        nonlocal events
        events += 1
        outcome = await engine.handle(Event(next(update_ids), chat, who, kind,  # type: ignore[arg-type]
                                            **fields))
        for reply in outcome.replies:
            if getattr(reply, "buttons", None):
                screen[:] = [b for row in reply.buttons for b in row]

    async def press(label: str) -> None:
        data = next(b.data for b in screen if label in b.label)
        await send("button", data=data, callback_id="c", message_id=1)

    await send("command", command="start", text="/start")
    await press("Continue")
    await press("OK")
    for n in range(opinions):
        await press("Give my opinion" if n == 0 else "Another service")
        await press(SERVICES[(user_id + n) % len(SERVICES)])
        await press(str(1 + (user_id + n) % 5))
        await send("text", text="The waiting time was too long & the staff kind.")
        await press("Send")
    return events


_citizen_ids = itertools.count(10_000)


async def measure(engine: Engine, citizens: int, opinions: int) -> tuple[int, float, float]:
    """(events, wall seconds, CPU seconds of this process)."""
    started, cpu = time.perf_counter(), time.process_time()
    counts = await asyncio.gather(*(citizen_journey(engine, next(_citizen_ids), opinions)
                                    for _ in range(citizens)))
    return sum(counts), time.perf_counter() - started, time.process_time() - cpu


def report(name: str, events: int, seconds: float, cpu: float, target: str = "") -> None:
    print(f"{name:24s}{events} events in {seconds:.2f} s = {events / seconds:,.0f} events/s, "
          f"{cpu / events * 1000:.3f} ms CPU/event{target}")


async def memory_engine() -> Engine:
    store = MemoryStore()
    lab = store.add_lab("bench", {"en": "Bench lab"}, NOW - timedelta(days=1))
    for name in SERVICES:
        store.add_service(lab, name.lower().replace(" ", "-"), {"en": name})
    return Engine(uow=lambda: MemoryUnitOfWork(store), settings=FlowSettings(), clock=lambda: NOW)


async def sql_engine(url: str):  # type: ignore[no-untyped-def]
    db = create_engine(url)
    async with db.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    sessions = session_factory(db)
    async with sessions() as session:
        lab = Lab(slug="bench", title={"en": "Bench lab"}, description={}, created_at=NOW)
        session.add(lab)
        await session.flush()
        session.add(LabPhase(lab_id=lab.id, phase="opinions", opens_at=NOW - timedelta(days=1)))
        for position, name in enumerate(SERVICES):
            session.add(Service(lab_id=lab.id, slug=name.lower().replace(" ", "-"),
                                title={"en": name}, description={}, position=position))
        await session.commit()
    engine = Engine(uow=lambda: SqlUnitOfWork(sessions), settings=FlowSettings(),
                    clock=lambda: NOW)
    return engine, db


async def measure_sql(url: str, citizens: int, opinions: int) -> tuple[int, float, float]:
    engine, db = await sql_engine(url)
    try:
        await measure(engine, 20, 1)  # the catalog snapshot, prepared statements
        return await measure(engine, citizens, opinions)
    finally:
        await db.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--citizens", type=int, default=200)
    parser.add_argument("--opinions", type=int, default=5)
    parser.add_argument("--database-url", default=services.postgres_server_url(),
                        help="a PostgreSQL server (default: TEST_DATABASE_URL)")
    args = parser.parse_args()
    assert Send  # the replies are built in full: rendering is part of the cost

    engine = await memory_engine()
    await measure(engine, 20, 1)  # warm caches (catalog compilation, imports)
    report("in-memory unit of work:", *await measure(engine, args.citizens, args.opinions),
           target=" (target >= 3,000)")

    with tempfile.TemporaryDirectory() as folder:
        report("SQLite (WAL, file):", *await measure_sql(
            f"sqlite+aiosqlite:///{folder}/bench.db", args.citizens, args.opinions))
    if args.database_url:
        # The admin connection runs its own event loop: from a thread.
        throwaway = services.throwaway_postgres(args.database_url)
        url = await asyncio.to_thread(throwaway.__enter__)
        try:
            report("PostgreSQL:", *await measure_sql(url, args.citizens, args.opinions))
        finally:
            await asyncio.to_thread(throwaway.__exit__, None, None, None)


if __name__ == "__main__":
    asyncio.run(main())
