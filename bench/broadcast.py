"""A broadcast to 100,000 citizens on PostgreSQL: queueing it, then delivering it.

    .venv/bin/python bench/broadcast.py [postgresql://...] [--citizens 100000]
        [--deliver-seconds 45] [--events-per-second 3]

The PostgreSQL server comes from the argument or TEST_DATABASE_URL; a throwaway
database is created on it (migrated) and dropped at the end.

(1) Queueing: ``--citizens`` citizens who accept news (plus some who do not, and
    some who blocked the bot), 70 % Spanish, 15 % Catalan, 10 % English, 5 %
    Basque; a broadcast with a Spanish, a Catalan and an English message (the
    Basque speakers get the Spanish one) is queued exactly as the wizard's
    "Send" does: one transaction, one INSERT ... SELECT per language.
    Target: under 5 s. Queueing the same broadcast again must add nothing.
(2) Delivery: the outbox sender (as ``participa run`` builds it, default
    SEND_RATE) sends the queue to the fake Bot API (in its own process,
    Telegram's limits: 30/s overall, 1/s per chat) for ``--deliver-seconds``,
    then stops: a sample of the whole, extrapolated to the total. Meanwhile
    citizens write to the bot (``--events-per-second`` /help commands through
    the engine and the same Bot API connection and budget): the p99 time from
    an update to its reply delivered must stay below 100 ms. 429s: must be 0.
    The writers are citizens who do not take news: someone who just got the
    broadcast reads it before answering, and the fake enforces 1/s per chat
    strictly (a reply is never held back for its chat's limit). A broadcast
    uses at most BROADCAST_SHARE (80 %) of the rate; the default 3 updates a
    second stay within the rest (at 5 a second and more the budget is full
    and replies wait for a free slot, up to a few hundred ms).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.outbox import database, fake_process, statuses
from bot.aiogram_transport import AiogramTransport
from bot.config import Settings
from bot.sender import (
    BROADCAST_SHARE,
    PER_CHAT_PER_SECOND,
    PER_GROUP_PER_MINUTE,
    OutboxSender,
)
from conversations.engine import Engine
from conversations.settings import FlowSettings
from conversations.vocabulary import Chat, Event, Who
from storage import broadcasts
from storage.broadcasts import NewBroadcast, Rendered
from storage.database import create_engine, session_factory
from storage.outbox import OutboxStore
from storage.send_limits import LocalSendLimiter
from storage.sql import SqlUnitOfWork
from tests.e2e import TOKEN

FIRST_ID = 20_000_000
BODIES = {
    "es": "<b>Taller ciudadano</b> el jueves a las 18:00 en la biblioteca. "
          "<a href=\"https://example.org/taller\">Más información</a>",
    "ca": "<b>Taller ciutadà</b> dijous a les 18:00 a la biblioteca. "
          "<a href=\"https://example.org/taller\">Més informació</a>",
    "en": "<b>Citizen workshop</b> on Thursday at 6 pm at the library. "
          "<a href=\"https://example.org/taller\">More information</a>",
}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def seed(url: str, citizens: int) -> None:
    """Citizens who accept news, 10 % more who do not, 1 % more who blocked the bot."""
    engine = create_engine(url)
    others, blocked = citizens // 10, citizens // 100
    total = citizens + others + blocked
    try:
        async with engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO citizens (telegram_id, language, first_seen, last_seen, "
                "blocked_bot) SELECT :first + g, CASE WHEN g % 20 < 14 THEN 'es' "
                "WHEN g % 20 < 17 THEN 'ca' WHEN g % 20 < 19 THEN 'en' ELSE 'eu' END, "
                "now(), now(), g > :unblocked FROM generate_series(1, :total) g"),
                {"first": FIRST_ID, "total": total, "unblocked": citizens + others})
            await conn.execute(text(
                "INSERT INTO notification_preferences (citizen_id, participation_updates, "
                "news, workshop_invitations, updated_at) SELECT id, true, "
                "(telegram_id - :first) <= :citizens OR blocked_bot, false, now() "
                "FROM citizens"), {"first": FIRST_ID, "citizens": citizens})
            await conn.execute(text(
                "INSERT INTO consents (citizen_id, purpose, text_version, given_at) "
                "SELECT id, 'privacy', '1', now() FROM citizens"))
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("ANALYZE"))
    finally:
        await engine.dispose()


async def queue_broadcast(url: str) -> tuple[int, float, float, dict[str, int], int]:
    """(broadcast id, seconds to count, seconds to queue, rows by language, rows again)."""
    engine = create_engine(url)
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    new = NewBroadcast(kind="news", created_by=None, audience={"key": "all", "value": None},
                       bodies=BODIES, buttons=[], default_language="es")
    rendered = {language: Rendered(body, None) for language, body in BODIES.items()}
    try:
        started = time.perf_counter()
        async with SqlUnitOfWork(sessions) as uow:
            await uow.broadcasts.count("news", "all", None)
        counted = time.perf_counter() - started
        started = time.perf_counter()
        async with SqlUnitOfWork(sessions) as uow:
            broadcast_id, _ = await uow.broadcasts.queue(new, rendered, now)
            await uow.commit()
        queued = time.perf_counter() - started
        async with sessions() as session:
            by_language = dict((await session.execute(text(
                "SELECT CASE WHEN body LIKE '%ciutadà%' THEN 'ca' WHEN body LIKE '%Citizen%' "
                "THEN 'en' ELSE 'es' END, count(*) FROM outbox WHERE broadcast_id = :id "
                "GROUP BY 1"), {"id": broadcast_id})).all())
        async with sessions() as session:
            again = await broadcasts.enqueue(session, broadcast_id, new, rendered, now)
            await session.commit()
    finally:
        await engine.dispose()
    return broadcast_id, counted, queued, by_language, again


async def citizens_write(engine: Engine, transport: AiogramTransport, stop: asyncio.Event,
                         per_second: float, population: int,
                         latencies: list[float], handled: list[float], *,
                         first: int | None = None) -> None:
    """/help from citizens at a steady pace; each update's time to its reply.
    ``first``: one update from that citizen only (a warm-up)."""
    update_ids = itertools.count(1 if first is None else 1_000_000_000)
    pending: set[asyncio.Task] = set()

    async def one(user_id: int) -> None:
        event = Event(next(update_ids), Chat(user_id), Who(user_id, None, "es"), "command",
                      text="/help", command="help")
        started = time.perf_counter()
        outcome = await engine.handle(event)
        handled.append(time.perf_counter() - started)
        await transport.deliver(event, outcome.replies)
        latencies.append(time.perf_counter() - started)

    # Citizens who do not take news: using the bot, not answering the broadcast
    # (a person who got it reads it before writing, well over a second later);
    # each writes once (nobody sends two messages within a second).
    writers = list(range(FIRST_ID + population + 1, FIRST_ID + population + population // 10))
    random.shuffle(writers)
    if first is not None:
        await one(first)
        return
    for user_id in itertools.cycle(writers):
        if stop.is_set():
            break
        task = asyncio.create_task(one(user_id))
        pending.add(task)
        task.add_done_callback(pending.discard)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1 / per_second)
    await asyncio.gather(*pending)


async def deliver(url: str, broadcast_id: int, citizens: int, seconds: float,
                  per_second: float) -> None:
    settings = Settings(bot_token=TOKEN)
    rate = settings.send_rate
    async with fake_process(global_rate=30, per_chat_rate=1) as fake:
        await fake.users(list(range(FIRST_ID + 1, FIRST_ID + citizens + citizens // 10 + 1)))
        db = create_engine(url)
        sessions = session_factory(db)
        limiter = LocalSendLimiter(rate, per_chat_per_second=PER_CHAT_PER_SECOND,
                                   per_group_per_minute=PER_GROUP_PER_MINUTE)
        transport = AiogramTransport(TOKEN, fake.base_url, limiter=limiter)
        sender = OutboxSender(OutboxStore(sessions), transport, limiter,
                              concurrency=settings.sender_concurrency,
                              spacing=1 / rate if rate else 0.0,
                              broadcast_limiter=LocalSendLimiter(
                                  rate * BROADCAST_SHARE, per_chat_per_second=0,
                                  per_group_per_minute=0))
        engine = Engine(uow=lambda: SqlUnitOfWork(sessions), settings=FlowSettings())
        stop, writers_stop = asyncio.Event(), asyncio.Event()
        latencies: list[float] = []
        handled: list[float] = []
        # Warm up (connections, compiled statements), as a running bot already is.
        warm = asyncio.Event()
        warm.set()
        await citizens_write(engine, transport, warm, per_second, citizens, [], [],
                             first=FIRST_ID + citizens + citizens // 10)
        started = time.monotonic()
        sending = asyncio.create_task(sender.run(stop))
        writing = asyncio.create_task(citizens_write(engine, transport, writers_stop,
                                                     per_second, citizens, latencies,
                                                     handled))
        await asyncio.sleep(seconds)
        writers_stop.set()
        await writing
        stop.set()
        await sending
        elapsed = time.monotonic() - started
        async with sessions() as session:
            figures = await broadcasts.figures(session, broadcast_id, datetime.now(UTC))
        sends = await fake.sends()
        done = await statuses(url)
        await transport.close()
        await db.dispose()
    assert figures is not None
    bodies = set(BODIES.values())
    accepted = sorted(t for t, status, _, body in sends if status == 200 and body in bodies)
    rate_seen = (len(accepted) - 1) / (accepted[-1] - accepted[0]) if len(accepted) > 1 else 0
    too_many = sum(status == 429 for _, status, _, _ in sends)
    total = figures.recipients
    print(f"(2) delivery for {elapsed:.0f} s at SEND_RATE={rate:g} (default), sender "
          f"concurrency {settings.sender_concurrency}, fake Bot API 30/s + 1/s per chat")
    print(f"    broadcast messages accepted by the fake: {len(accepted)}; achieved rate "
          f"{rate_seen:.2f}/s (at most {rate * BROADCAST_SHARE:g}/s: "
          f"{BROADCAST_SHARE:.0%} of SEND_RATE, the rest kept for replies)")
    print(f"    429s: {too_many} (target 0)")
    print(f"    figures (participa broadcasts status {broadcast_id}): status {figures.status}, "
          f"recipients {figures.recipients}, queued {figures.queued}, sent {figures.sent}, "
          f"failed {figures.failed}, blocked {figures.blocked}, current rate "
          f"{figures.rate:.1f}/s, expected end "
          f"{figures.expected_end.isoformat(timespec='seconds') if figures.expected_end else '?'}")
    print(f"    outbox rows by status: {dict(done)}")
    if rate_seen:
        print(f"    extrapolated: all {total:,} at {rate_seen:.1f}/s take "
              f"{total / rate_seen / 60:.0f} min (a sample of {len(accepted)} was sent, then "
              f"the sender stopped)")
    if latencies:
        print(f"    interactive replies while it ran: {len(latencies)} updates "
              f"({per_second:g}/s), reply delivered in p50 "
              f"{statistics.median(latencies) * 1000:.0f} ms, p95 "
              f"{percentile(latencies, 0.95) * 1000:.0f} ms, p99 "
              f"{percentile(latencies, 0.99) * 1000:.0f} ms, max "
              f"{max(latencies) * 1000:.0f} ms (target p99 < 100 ms); of which the engine "
              f"(one transaction): p50 {statistics.median(handled) * 1000:.0f} ms, p99 "
              f"{percentile(handled, 0.99) * 1000:.0f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("database_url", nargs="?", default=os.environ.get("TEST_DATABASE_URL"),
                        help="a PostgreSQL server (a throwaway database is created on it)")
    parser.add_argument("--citizens", type=int, default=100_000)
    parser.add_argument("--deliver-seconds", type=float, default=45.0)
    parser.add_argument("--events-per-second", type=float, default=3.0)
    args = parser.parse_args()
    if not args.database_url or not args.database_url.startswith("postgresql"):
        parser.error("give a PostgreSQL URL (argument or TEST_DATABASE_URL)")
    async with database(args.database_url) as url:
        started = time.perf_counter()
        await seed(url, args.citizens)
        print(f"seeded {args.citizens:,} citizens who accept news (+ {args.citizens // 10:,} "
              f"who do not, + {args.citizens // 100:,} who blocked the bot) in "
              f"{time.perf_counter() - started:.1f} s")
        broadcast_id, counted, queued, by_language, again = await queue_broadcast(url)
        rows = sum(by_language.values())
        print(f"(1) queueing: {rows:,} rows {by_language} in {queued:.2f} s "
              f"(target < 5 s); counting the recipients first: {counted:.2f} s; "
              f"queueing it again added {again} rows (target 0)")
        await deliver(url, broadcast_id, args.citizens, args.deliver_seconds,
                      args.events_per_second)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
