"""The outbox sender against the fake Bot API (in a process of its own).

    .venv/bin/python bench/outbox.py [--rows 10000] [--database-url postgresql://...]
        [--only a,b,c] [--profile]

(a) ``--rows`` notifications to ``--rows / 5`` chats at SEND_RATE=29 against a
    fake that allows 30/s and 1/s per chat: achieved rate (target ≥ 0.97 × 29)
    and 429s (target 0). 10,000 rows take about six minutes.
(b) Rate unlimited (SEND_RATE=0, the fake unlimited), one row per chat, on
    PostgreSQL: messages per second (target ≥ 900). ``--profile``: under
    cProfile, the top functions printed.
(c) A sender subprocess SIGKILLed when half of ``--kill-rows`` are sent, then a
    new one (its clock past the lease): duplicates and misses.

The database: with ``--database-url`` (or TEST_DATABASE_URL) a PostgreSQL
server on which each part creates a throwaway database and drops it after;
otherwise a temporary SQLite file ((b) needs PostgreSQL and is skipped).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import os
import pstats
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from sqlalchemy import func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.aiogram_transport import AiogramTransport
from bot.sender import PER_CHAT_PER_SECOND, PER_GROUP_PER_MINUTE, OutboxSender
from storage import models as m
from storage.database import create_engine, session_factory
from storage.outbox import LEASE, OutboxStore
from storage.send_limits import LocalSendLimiter
from tests import services
from tests.e2e import TOKEN

ROOT = Path(__file__).resolve().parent.parent
FIRST_CHAT = 10_000_000


# -- the fake in its own process --------------------------------------------------


class Fake:
    def __init__(self, process: subprocess.Popen, port: int) -> None:
        self.process = process
        self.base_url = f"http://127.0.0.1:{port}"
        self.http = aiohttp.ClientSession()

    async def users(self, ids: list[int]) -> None:
        async with self.http.post(f"{self.base_url}/control/users", json={"ids": ids}) as r:
            r.raise_for_status()

    async def count(self) -> dict[str, int]:
        async with self.http.get(f"{self.base_url}/control/count") as r:
            return await r.json()

    async def sends(self) -> list[tuple[float, int, int, str]]:
        async with self.http.get(f"{self.base_url}/control/sends") as r:
            return [tuple(s) for s in (await r.json())["sends"]]  # type: ignore[misc]


@contextlib.asynccontextmanager
async def fake_process(global_rate: int | None = None,
                       per_chat_rate: int | None = None) -> AsyncIterator[Fake]:
    command = [sys.executable, str(ROOT / "bench" / "fake_server.py")]
    if global_rate:
        command += ["--global-rate", str(global_rate)]
    if per_chat_rate:
        command += ["--per-chat-rate", str(per_chat_rate)]
    process = await asyncio.to_thread(subprocess.Popen, command, stdout=subprocess.PIPE,
                                      text=True, cwd=ROOT)
    assert process.stdout is not None
    line = await asyncio.to_thread(process.stdout.readline)
    if not line.startswith("PORT "):
        process.kill()
        raise RuntimeError(f"the fake did not start: {line!r}")
    fake = Fake(process, int(line.split()[1]))
    try:
        yield fake
    finally:
        await fake.http.close()
        process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(process.wait, 10)


# -- databases ------------------------------------------------------------------


@contextlib.asynccontextmanager
async def database(server: str | None) -> AsyncIterator[str]:
    """A migrated throwaway database: on the PostgreSQL server, else SQLite."""
    if server:
        throwaway = services.throwaway_postgres(server)
        url = await asyncio.to_thread(throwaway.__enter__)
        try:
            await create_schema(url)
            yield url
        finally:
            await asyncio.to_thread(throwaway.__exit__, None, None, None)
        return
    with tempfile.TemporaryDirectory() as folder:
        url = services.sqlite_url(Path(folder))
        await create_schema(url)
        yield url


async def create_schema(url: str) -> None:
    from storage import migrate

    await asyncio.to_thread(migrate.upgrade, url)


async def queue_rows(url: str, rows: int, chats: int) -> None:
    """``rows`` rows round-robin over ``chats`` chats, bodies ``row <n>``."""
    engine = create_engine(url)
    now = datetime.now(UTC)
    try:
        async with engine.begin() as conn:
            for start in range(0, rows, 1000):
                await conn.execute(insert(m.OutboxMessage), [
                    {"chat_id": FIRST_CHAT + n % chats, "kind": "message", "body": f"row {n}",
                     "priority": 2, "not_before": now, "status": "pending", "attempts": 0,
                     "created_at": now}
                    for n in range(start, min(rows, start + 1000))])
    finally:
        await engine.dispose()


async def statuses(url: str) -> Counter:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            found = await conn.execute(select(m.OutboxMessage.status, func.count())
                                       .group_by(m.OutboxMessage.status))
            return Counter(dict(found.all()))  # type: ignore[arg-type]
    finally:
        await engine.dispose()


# -- a sender -------------------------------------------------------------------


def limiter(rate: float) -> LocalSendLimiter:
    return LocalSendLimiter(rate, per_chat_per_second=PER_CHAT_PER_SECOND,
                            per_group_per_minute=PER_GROUP_PER_MINUTE)


async def run_sender(url: str, api_base: str, rate: float, *, concurrency: int,
                     until: Callable[[], bool] | None = None, total: int | None = None,
                     clock_offset: float = 0.0, pace: bool = True) -> float:
    """Send until every row is final (or forever without ``total``); seconds taken."""
    engine = create_engine(url)
    sessions = session_factory(engine)
    send_limits = limiter(rate)
    transport = AiogramTransport(TOKEN, api_base, limiter=send_limits)
    offset = timedelta(seconds=clock_offset)
    sender = OutboxSender(OutboxStore(sessions), transport, send_limits, concurrency=concurrency,
                          idle_poll=0.2, clock=lambda: datetime.now(UTC) + offset,
                          spacing=1 / rate if rate and pace else 0.0)
    stop = asyncio.Event()
    started = time.monotonic()
    task = asyncio.create_task(sender.run(stop))
    try:
        while total is not None:
            await asyncio.sleep(0.25)
            done = await statuses(url)
            if sum(done[s] for s in ("sent", "failed", "blocked")) >= total:
                break
        else:
            await task
        return time.monotonic() - started
    finally:
        stop.set()
        await asyncio.gather(task, return_exceptions=True)
        await transport.close()
        await engine.dispose()


def most_in_a_second(times: list[float], window: float = 1.0) -> int:
    times = sorted(times)
    most, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        most = max(most, end - start + 1)
    return most


@dataclass
class Figures:
    part: str
    rows: int
    seconds: float
    rate: float
    target: str
    too_many: int
    note: str


# -- the three parts ------------------------------------------------------------


async def part_a(rows: int, server: str | None, concurrency: int) -> Figures:
    send_rate, chats = 29, max(1, rows // 5)
    async with fake_process(global_rate=30, per_chat_rate=1) as fake, database(server) as url:
        await fake.users(list(range(FIRST_CHAT, FIRST_CHAT + chats)))
        await queue_rows(url, rows, chats)
        seconds = await run_sender(url, fake.base_url, send_rate, concurrency=concurrency,
                                   total=rows)
        sends = await fake.sends()
        done = await statuses(url)
    accepted = sorted(t for t, status, _, _ in sends if status == 200)
    rate = (len(accepted) - 1) / (accepted[-1] - accepted[0]) if len(accepted) > 1 else 0.0
    too_many = sum(status == 429 for _, status, _, _ in sends)
    return Figures("a", rows, seconds, rate, f">= {0.97 * send_rate:.2f}/s, 0 x 429", too_many,
                   f"{chats} chats, SEND_RATE={send_rate} vs fake 30/s + 1/s/chat; "
                   f"most in any 1 s at the fake: {most_in_a_second(accepted)}; "
                   f"rows {dict(done)}; {'sqlite' if not server else 'postgresql'}")


async def part_b(rows: int, server: str | None, concurrency: int,
                 profile: bool) -> Figures | None:
    if not server:
        print("(b) skipped: needs --database-url (or TEST_DATABASE_URL), a PostgreSQL server")
        return None
    async with fake_process() as fake, database(server) as url:
        await fake.users(list(range(FIRST_CHAT, FIRST_CHAT + rows)))
        await queue_rows(url, rows, rows)
        profiler = cProfile.Profile() if profile else None
        if profiler:
            profiler.enable()
        seconds = await run_sender(url, fake.base_url, 0, concurrency=concurrency, total=rows)
        if profiler:
            profiler.disable()
        sends = await fake.sends()
        done = await statuses(url)
    accepted = sorted(t for t, status, _, _ in sends if status == 200)
    rate = (len(accepted) - 1) / (accepted[-1] - accepted[0]) if len(accepted) > 1 else 0.0
    if profiler:
        if os.environ.get("BENCH_PROFILE_FILE"):
            profiler.dump_stats(os.environ["BENCH_PROFILE_FILE"])
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(25)
        print("(b) profile, by own time:\n" + out.getvalue())
    return Figures("b", rows, seconds, rate, ">= 900/s", sum(s == 429 for _, s, _, _ in sends),
                   f"one row per chat, SEND_RATE=0, concurrency {concurrency}, postgresql; "
                   f"wall {rows / seconds:.0f}/s incl. start and final poll; rows {dict(done)}")


async def part_c(rows: int, server: str | None, concurrency: int) -> Figures:
    async with fake_process() as fake, database(server) as url:
        await fake.users(list(range(FIRST_CHAT, FIRST_CHAT + rows)))
        await queue_rows(url, rows, rows)
        # Paced so that the kill lands mid-way: 200/s.
        child = sender_process(url, fake.base_url, 200, concurrency, 0.0)
        started = time.monotonic()
        while (await fake.count())["ok"] < rows // 2:  # noqa: ASYNC110 (another process)
            await asyncio.sleep(0.005)
        child.send_signal(signal.SIGKILL)
        await asyncio.to_thread(child.wait)
        at_kill = await statuses(url)
        engine = create_engine(url)
        async with engine.connect() as conn:
            in_flight = set((await conn.execute(select(m.OutboxMessage.body).where(
                m.OutboxMessage.status == "sending"))).scalars())
        await engine.dispose()
        restarted = sender_process(url, fake.base_url, 200, concurrency,
                                   LEASE.total_seconds() + 1)
        while True:
            done = await statuses(url)
            if sum(done[s] for s in ("sent", "failed", "blocked")) >= rows:
                break
            await asyncio.sleep(0.1)
        seconds = time.monotonic() - started
        restarted.send_signal(signal.SIGTERM)
        await asyncio.to_thread(restarted.wait, 15)
        sends = await fake.sends()
    received = Counter(text for _, status, _, text in sends if status == 200)
    missed = sum(received[f"row {n}"] == 0 for n in range(rows))
    twice = {text for text, count in received.items() if count > 1}
    extra = sum(received[text] - 1 for text in twice)
    return Figures("c", rows, seconds, rows / seconds, "0 missed, dups <= concurrency",
                   sum(s == 429 for _, s, _, _ in sends),
                   f"SIGKILL at {at_kill['sent']} sent ({at_kill['sending']} rows 'sending', "
                   f"concurrency {concurrency}); after restart: {missed} missed, "
                   f"{len(twice)} rows received twice ({extra} extra messages), "
                   f"all of them 'sending' at the kill: {twice <= in_flight}; "
                   f"final {dict(done)}")


def sender_process(url: str, api_base: str, rate: float, concurrency: int,
                   clock_offset: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, "--sender-only", "--database-url", url,
                             "--api-base", api_base, "--rate", str(rate),
                             "--concurrency", str(concurrency),
                             "--clock-offset", str(clock_offset)], cwd=ROOT)


# -- main -----------------------------------------------------------------------


def table(figures: list[Figures]) -> str:
    lines = [f"{'part':<5}{'rows':>7}{'seconds':>9}{'msg/s':>9}  {'429s':>5}  target",
             "-" * 60]
    for f in figures:
        lines.append(f"{f.part:<5}{f.rows:>7}{f.seconds:>9.1f}{f.rate:>9.1f}  "
                     f"{f.too_many:>5}  {f.target}")
    lines.append("")
    lines += [f"({f.part}) {f.note}" for f in figures]
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000, help="rows for (a) and (b)")
    parser.add_argument("--kill-rows", type=int, default=2_000, help="rows for (c)")
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL"),
                        help="a PostgreSQL server (throwaway databases are created on it)")
    parser.add_argument("--only", default="a,b,c")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--profile", action="store_true", help="cProfile part (b)")
    # A sender process for (c).
    parser.add_argument("--sender-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--api-base", help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--clock-offset", type=float, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.sender_only:
        await run_sender(args.database_url, args.api_base, args.rate,
                         concurrency=args.concurrency, clock_offset=args.clock_offset)
        return
    parts = set(args.only.split(","))
    figures: list[Figures] = []
    if "b" in parts:
        found = await part_b(args.rows, args.database_url, args.concurrency, args.profile)
        if found:
            figures.append(found)
            print(table(figures[-1:]), flush=True)
    if "c" in parts:
        figures.append(await part_c(args.kill_rows, args.database_url, args.concurrency))
        print(table(figures[-1:]), flush=True)
    if "a" in parts:
        figures.append(await part_a(args.rows, args.database_url, args.concurrency))
    print("\n" + table(figures))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
