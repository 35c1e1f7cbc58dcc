"""Updates/s with 1, 2 and 3 webhook workers behind nginx on this machine.

    .venv/bin/python bench/scaleout.py [--workers 1,2,3] [--citizens 60] [--rounds 2]

Needs PostgreSQL and Redis (TEST_DATABASE_URL, TEST_REDIS_URL; the local
defaults otherwise) and nginx. For each number of workers: a throwaway
database with the demo lab, ``participa run --workers N`` behind nginx
(deploy/nginx.conf, adjusted by tests/deploy_files.py), the fake Bot API
POSTing every update to nginx as Telegram does. All citizens go through
the opinion journey at once (8 updates each: /start, language, privacy,
menu, service, rating, comment, send), each waiting for the webhook's 200
(the update stored and its replies sent) before the next step.

Printed per N: updates/s; latency p50/p99 (POST to 200, through nginx);
CPU seconds of nginx, of the workers and of this process (the fake Bot API
and the citizens share the machine), and nginx's share of the CPU used.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import services
from tests.cluster import Cluster
from tests.deploy_files import nginx_binary
from tests.e2e import TOKEN, Citizen, prepare_database
from tests.fake_bot_api import FakeBotAPI

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(root: int) -> float:
    """User + system CPU of a process and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry.name), int(fields[1])
        children.setdefault(ppid, []).append(pid)
        times[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += times.get(pid, 0.0)
        todo.extend(children.get(pid, []))
    return total


class Timed(Citizen):
    """A citizen whose every update's round trip (POST to 200) is recorded."""

    def __init__(self, fake: FakeBotAPI, user, latencies: list[float]) -> None:  # type: ignore[no-untyped-def]
        super().__init__(fake, user)
        self.latencies = latencies

    async def handled(self, action):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        sent = await super().handled(action)
        self.latencies.append(time.perf_counter() - started)
        return sent


async def journey(citizen: Citizen, number: int) -> None:
    await citizen.consent()
    await citizen.press("Give my opinion")
    await citizen.press("E-government website")
    await citizen.press(str(1 + number % 5))
    await citizen.text(f"Comment {number}")
    await citizen.press("Send")


async def measure(workers: int, citizens: int, rounds: int, server: str, redis: str) -> dict:
    database = services.throwaway_postgres(server)
    # Created and dropped in a thread: the helper runs its own event loop.
    url = await asyncio.to_thread(database.__enter__)
    try:
        return await _measure(workers, citizens, rounds, url, redis)
    finally:
        await asyncio.to_thread(database.__exit__, None, None, None)


async def _measure(workers: int, citizens: int, rounds: int, url: str, redis: str) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        await prepare_database(url)
        prefix = services.new_redis_prefix()
        async with FakeBotAPI(token=TOKEN) as fake:
            cluster = Cluster(fake, Path(folder), workers=workers, database_url=url,
                              redis_url=redis, redis_prefix=prefix,
                              env={"THROTTLE_PER_MINUTE": "0", "SEND_RATE": "0",
                                   "LOG_LEVEL": "WARNING"})
            await cluster.start()
            try:
                # Warm-up: connections, caches, the first journeys' imports.
                await asyncio.gather(*(journey(Timed(fake, fake.user(
                    9_000_000 + n, language_code="en"), []), n) for n in range(workers * 4)))
                latencies: list[float] = []
                assert cluster.nginx is not None and cluster.bot is not None
                cpu = (cpu_seconds(cluster.nginx.pid), cpu_seconds(cluster.bot.pid),
                       cpu_seconds(os.getpid()))
                started = time.perf_counter()
                for round_ in range(rounds):
                    await asyncio.gather(*(journey(Timed(fake, fake.user(
                        1_000_000 * (round_ + 1) + n, language_code="en"), latencies), n)
                        for n in range(citizens)))
                elapsed = time.perf_counter() - started
                nginx, bot, here = (cpu_seconds(cluster.nginx.pid) - cpu[0],
                                    cpu_seconds(cluster.bot.pid) - cpu[1],
                                    cpu_seconds(os.getpid()) - cpu[2])
            finally:
                await cluster.stop()
                await services.delete_redis_prefix(redis, prefix)
    latencies.sort()
    return {"workers": workers, "updates": len(latencies), "rate": len(latencies) / elapsed,
            "p50": statistics.median(latencies) * 1000,
            "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
            "nginx_cpu": nginx, "bot_cpu": bot, "bench_cpu": here, "elapsed": elapsed,
            "nginx_share": nginx / (nginx + bot + here) * 100}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2,3")
    parser.add_argument("--citizens", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if nginx_binary() is None:
        sys.exit("nginx is not installed (apt-get install nginx-light)")
    server = services.postgres_server_url() or "postgresql://postgres@127.0.0.1:5432/postgres"
    redis = services.redis_url() or "redis://127.0.0.1:6379/0"
    print(f"{os.cpu_count()} CPU cores; {args.citizens} citizens at once, {args.rounds} "
          "rounds of the 8-update opinion journey")
    print(f"{'workers':>7} {'updates/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'nginx CPU s':>12} "
          f"{'workers CPU s':>14} {'bench CPU s':>12} {'nginx share':>12}")
    for workers in (int(n) for n in args.workers.split(",")):
        r = await measure(workers, args.citizens, args.rounds, server, redis)
        print(f"{r['workers']:>7} {r['rate']:>10.0f} {r['p50']:>8.1f} {r['p99']:>8.1f} "
              f"{r['nginx_cpu']:>12.2f} {r['bot_cpu']:>14.2f} {r['bench_cpu']:>12.2f} "
              f"{r['nginx_share']:>11.1f}%", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
