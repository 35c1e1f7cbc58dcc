"""The whole stack against a bare bot of the same framework, over HTTP.

    .venv/bin/python bench/throughput.py [--citizens 200] [--load-updates 1000]
        [--frameworks aiogram,ptb] [--modes polling,webhook] [--rounds 1] [--pin]
        [--database-url postgresql://...] [--profile]

Each bot runs in a process of its own, long polling the fake Bot API of
tests/fake_bot_api (no rate limits) or behind a webhook the fake calls; the
fake runs here with the simulated citizens, so the bot's CPU time is its
own. For each framework:

- the bare echo bot (bench/echo_bot.py, no database), by long polling and
  behind a webhook: every citizen sends 13 texts, each after the echo of
  the previous one arrived;
- Participa (``participa run`` exactly as deployed, by long polling and
  behind its webhook server, on SQLite and, with ``--database-url`` or
  TEST_DATABASE_URL, on PostgreSQL): every citizen
  goes through the journey a person makes, 13 updates: /start, language
  and privacy, then two opinions (service, rating, comment, send), pressing
  the buttons the bot actually sent.

Printed per bot: (1) updates/s with all citizens at once (each waits for
the reply before the next step), and the ratio to the echo bot taking
updates the same way (on this 2-core machine a webhook also costs the fake
a request per update, which slows both bots), and to the polling echo; (2) reply
latency p50/p99 at a fixed offered load of 100 updates/s (new citizens,
the same steps: the time from the update being available to the bot's
first message or edit in that chat); (3) the bot process's CPU time per
update. ``--profile`` runs Participa under cProfile (CPU time; on PostgreSQL
when a server is given) and prints where its time goes, and the share of
the garbage collector.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storage import models as m
from tests import services
from tests.e2e import TOKEN, Rows, label, prepare_database
from tests.fake_bot_api import FakeBotAPI, SimUser

ROOT = Path(__file__).resolve().parent.parent
REPLY_METHODS = {"sendMessage", "editMessageText", "sendPhoto", "sendDocument"}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
ECHO_TEXTS = 13


class BenchFake(FakeBotAPI):
    """The fake, telling waiting citizens at once when their reply arrived.

    The test suite's ``wait_for`` re-evaluates every predicate on every call,
    which is quadratic with hundreds of citizens waiting; here each waiter
    has its own future.
    """

    def __init__(self) -> None:
        super().__init__(TOKEN, max_poll_timeout=2.0)
        self.reply_waiters: dict[int, asyncio.Future[float]] = {}
        self.replies = 0

    def _reply_seen(self, chat_id: Any) -> None:
        self.replies += 1
        waiter = self.reply_waiters.pop(int(chat_id), None)
        if waiter is not None and not waiter.done():
            waiter.set_result(time.perf_counter())

    async def _send_message(self, params: dict[str, Any], files: Any) -> dict[str, Any]:
        result = await super()._send_message(params, files)
        self._reply_seen(params["chat_id"])
        return result

    async def _edit_message_text(self, params: dict[str, Any], files: Any) -> Any:
        result = await super()._edit_message_text(params, files)
        self._reply_seen(params["chat_id"])
        return result

    def expect_reply(self, chat_id: int) -> asyncio.Future[float]:
        waiter = asyncio.get_running_loop().create_future()
        self.reply_waiters[chat_id] = waiter
        return waiter



# -- what a citizen does ------------------------------------------------------------


Step = Callable[[SimUser, BenchFake], Awaitable[Any]]


def press(fragment: str) -> Step:
    async def step(user: SimUser, fake: BenchFake) -> Any:
        screen = [m for m in fake.messages(user.id) if m.buttons][-1]
        return await user.press(screen, label(screen, fragment))
    return step


def text(value: str) -> Step:
    async def step(user: SimUser, fake: BenchFake) -> Any:
        return await user.send_text(value)
    return step


def command(name: str) -> Step:
    async def step(user: SimUser, fake: BenchFake) -> Any:
        return await user.send_command(name)
    return step


JOURNEY: list[Step] = [
    command("/start"), press("Continue"), press("OK"),
    press("Give my opinion"), press("E-government website"), press("4"),
    text("The form lost my data and I had to start again"), press("Send"),
    press("Another service"), press("012 information phone line"), press("2"),
    text("Long wait, but kind people"), press("Send"),
]
ECHO: list[Step] = [text(f"hello {n}") for n in range(ECHO_TEXTS)]


@dataclass
class Citizen:
    """Acts, then waits for the bot's message or edit, like a person.

    Every step of the journey shows exactly one new message or edit, so the
    next step acts on the screen that step produced; the stored opinions are
    counted at the end to prove no step went astray.
    """

    user: SimUser
    steps: list[Step]
    latencies: list[float] = field(default_factory=list)

    async def step(self, fake: BenchFake, n: int) -> None:
        reply = fake.expect_reply(self.user.id)
        start = time.perf_counter()
        await self.steps[n](self.user, fake)
        self.latencies.append(await asyncio.wait_for(reply, 30) - start)


# -- the bot under test ------------------------------------------------------------


@dataclass
class BotProcess:
    name: str
    process: subprocess.Popen[bytes]

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    async def stop(self) -> str:
        """SIGTERM, as systemd stops it. Waited for in a thread: the fake in this
        event loop must go on answering while the bot finishes and confirms."""
        self.process.terminate()
        try:
            _, err = await asyncio.to_thread(self.process.communicate, timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = await asyncio.to_thread(self.process.communicate)
        return err.decode(errors="replace")


def database_cpu() -> dict[int, float]:
    """CPU seconds of each process of a PostgreSQL server on this machine (by
    its name), so that the table can show what the database took of the two
    cores while the bot ran; empty when there is none or /proc hides it."""
    seconds: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, _, tail = stat.read_text().rpartition(")")
        except OSError:
            continue
        if head.split("(", 1)[-1] == "postgres":
            fields = tail.split()
            seconds[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return seconds


def cpu_since(before: dict[int, float]) -> float:
    """The CPU the database's processes used since ``before`` (those alive now)."""
    return sum(now - before.get(pid, 0.0) for pid, now in database_cpu().items())


def start_participa(framework: str, base: str, database_url: str, workdir: Path,
                    profile_to: Path | None, mode: str = "polling") -> BotProcess:
    webhook: dict[str, str] = {"WEBHOOK_URL": ""}
    if mode == "webhook":
        port = _free_port()
        webhook = {"WEBHOOK_URL": f"http://127.0.0.1:{port}/tg",
                   "WEBHOOK_LISTEN": f"127.0.0.1:{port}", "WEBHOOK_SECRET": "bench-secret"}
    env = {**os.environ, "BOT_TOKEN": TOKEN, "BOT_FRAMEWORK": framework,
           "TELEGRAM_API_BASE": base, "DATABASE_URL": database_url, "REDIS_URL": "",
           **webhook, "OPS_LISTEN": f"127.0.0.1:{_free_port()}",
           # The fake has no rate limits and neither may the bot: measured is what
           # the stack costs, not Telegram's ~30 messages/s that SEND_RATE keeps.
           "THROTTLE_PER_MINUTE": "0", "SEND_RATE": "0", "LOG_LEVEL": "WARNING",
           "PYTHONPATH": str(ROOT)}
    runner = [sys.executable, "-m", "bot.cli", "run"]
    if profile_to is not None:
        # SIGUSR1 starts the profiler and SIGUSR2 stops it and writes the figures,
        # so only the measured phase is profiled (not imports nor the warm-up).
        runner = [sys.executable, "-c", PROFILED_RUN.format(path=str(profile_to))]
    # Its own folder: a .env in the checkout must not change what is measured.
    name = f"participa-{framework}" + ("-webhook" if mode == "webhook" else "")
    return BotProcess(name, subprocess.Popen(
        runner, cwd=workdir, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
        preexec_fn=_on_bot_cpus))


PROFILED_RUN = """
import cProfile, gc, json, signal, sys, time
from bot.cli import main
# CPU time, not wall time: waiting in epoll is not where the time goes.
profiler = cProfile.Profile(time.process_time)
collecting = {{"seconds": 0.0, "since": None, "on": False}}
def collector(phase, info):
    if not collecting["on"]:
        return
    if phase == "start":
        collecting["since"] = time.process_time()
    elif collecting["since"] is not None:
        collecting["seconds"] += time.process_time() - collecting["since"]
gc.callbacks.append(collector)
def start(*_):
    collecting["on"] = True
    profiler.enable()
def stop(*_):
    profiler.disable()
    collecting["on"] = False
    profiler.dump_stats({path!r})
    with open({path!r} + ".gc", "w") as out:
        json.dump({{"gc_seconds": collecting["seconds"]}}, out)
signal.signal(signal.SIGUSR1, start)
signal.signal(signal.SIGUSR2, stop)
sys.exit(main(["run"]))
"""


def start_echo(framework: str, base: str, workdir: Path, mode: str = "polling") -> BotProcess:
    webhook = [f"http://127.0.0.1:{_free_port()}/tg"] if mode == "webhook" else []
    name = f"echo-{framework}" + ("-webhook" if mode == "webhook" else "")
    return BotProcess(name, subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "echo_bot.py"), framework, base, TOKEN,
         *webhook], cwd=workdir, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
        preexec_fn=_on_bot_cpus))


# With --pin: the CPUs the bots run on (the first); this process, the fake
# and the citizens, keeps the others. None: every process anywhere.
BOT_CPUS: set[int] | None = None


def _on_bot_cpus() -> None:
    """In the bot's process, before it starts."""
    if BOT_CPUS is not None:
        os.sched_setaffinity(0, BOT_CPUS)


def pin(bot_cpus: int = 1) -> None:
    """Bots on the first CPU(s), this process on the rest: each bot has a
    core to itself, as a worker with its database elsewhere would; without
    it the bot, the fake and PostgreSQL share two cores, and whichever is
    busiest slows the others (the bot's CPU time per update with them)."""
    global BOT_CPUS
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) <= bot_cpus:
        raise SystemExit(f"--pin needs more than {bot_cpus} CPU(s); this process has {len(cpus)}")
    BOT_CPUS = set(cpus[:bot_cpus])
    os.sched_setaffinity(0, set(cpus[bot_cpus:]))


def _free_port() -> int:
    from tests.e2e import free_port
    return free_port()


async def wait_until_ready(fake: BenchFake, bot: BotProcess) -> None:
    """Polling: its first getUpdates; webhook: it told Telegram where to POST."""
    deadline = time.monotonic() + 60
    while fake.count("getUpdates") == 0 and fake.webhook_url is None:
        if bot.process.poll() is not None:
            raise SystemExit(f"{bot.name} stopped at start:\n{(await bot.stop())[-2000:]}")
        if time.monotonic() > deadline:
            raise SystemExit(f"{bot.name} did not start polling within 60 s")
        await asyncio.sleep(0.05)


# -- the two measurements ------------------------------------------------------------


ids = itertools.count(10_000_000)


def new_citizens(fake: BenchFake, count: int, steps: list[Step]) -> list[Citizen]:
    return [Citizen(fake.user(next(ids), first_name="Bench", language_code="en"), steps)
            for _ in range(count)]


async def all_at_once(fake: BenchFake, citizens: list[Citizen]) -> int:
    async def go(citizen: Citizen) -> None:
        for n in range(len(citizen.steps)):
            await citizen.step(fake, n)

    await asyncio.gather(*(go(c) for c in citizens))
    return sum(len(c.steps) for c in citizens)


async def at_fixed_rate(fake: BenchFake, citizens: list[Citizen], rate: float,
                        updates: int) -> tuple[int, float]:
    """Offer ``rate`` updates/s (the next step of the next idle citizen); how many
    were offered on time, and the worst lag behind the schedule."""
    ready: asyncio.Queue[Citizen] = asyncio.Queue()
    for citizen in citizens:
        ready.put_nowait(citizen)
    progress = {id(c): 0 for c in citizens}
    running: set[asyncio.Task[None]] = set()

    async def one(citizen: Citizen) -> None:
        await citizen.step(fake, progress[id(citizen)])
        progress[id(citizen)] += 1
        if progress[id(citizen)] < len(citizen.steps):
            ready.put_nowait(citizen)

    updates = min(updates, sum(len(c.steps) for c in citizens))
    start, worst_lag = time.perf_counter(), 0.0
    for n in range(updates):
        due = start + n / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        citizen = await ready.get()
        worst_lag = max(worst_lag, time.perf_counter() - due)
        task = asyncio.create_task(one(citizen))
        running.add(task)
        task.add_done_callback(running.discard)
    await asyncio.gather(*running)
    return updates, worst_lag


@dataclass
class Result:
    bot: str
    database: str
    updates_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_update: float
    lag_ms: float
    # Shares of one core during the throughput phase: the bot's, and this
    # process's (the fake and the citizens). A generator near 1.0 means it,
    # not the bot, set the pace; the CPU per update still compares the bots.
    bot_core: float = 0.0
    generator_core: float = 0.0
    round: int = 0  # results are set against the echo bots of their own round
    database_core: float = 0.0  # a local PostgreSQL server's processes, together


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def measure(fake: BenchFake, bot: BotProcess, steps: list[Step],
                  args: argparse.Namespace, database: str,
                  verify: Callable[[int], Awaitable[None]] | None = None,
                  round_: int = 0) -> Result:
    await wait_until_ready(fake, bot)
    # Warm-up: imports, connection pools, the first statements prepared.
    warm_up = 5
    await all_at_once(fake, new_citizens(fake, warm_up, steps))

    if args.profile:
        bot.process.send_signal(signal.SIGUSR1)
    cpu, began, generator = bot.cpu_seconds(), time.perf_counter(), time.process_time()
    db_before = database_cpu() if database == "postgresql" else {}
    updates = await all_at_once(fake, new_citizens(fake, args.citizens, steps))
    elapsed = time.perf_counter() - began
    cpu = bot.cpu_seconds() - cpu
    generator = time.process_time() - generator
    db = cpu_since(db_before) if database == "postgresql" else 0.0
    if args.profile:
        bot.process.send_signal(signal.SIGUSR2)

    # Enough citizens for whole journeys: the latency covers every kind of step.
    paced = new_citizens(fake, max(1, round(args.load_updates / len(steps))), steps)
    _, lag = await at_fixed_rate(fake, paced, args.rate, len(paced) * len(steps))
    if verify is not None:
        await verify(warm_up + args.citizens + len(paced))
    latencies = [x for c in paced for x in c.latencies]
    return Result(bot.name, database, updates / elapsed, percentile(latencies, 0.5) * 1000,
                  percentile(latencies, 0.99) * 1000, cpu / updates * 1000, lag * 1000,
                  cpu / elapsed, generator / elapsed, round_, db / elapsed)


@contextlib.asynccontextmanager
async def running(start: Callable[[str], BotProcess]) -> AsyncIterator[tuple[BenchFake,
                                                                             BotProcess]]:
    async with BenchFake() as fake:
        bot = start(fake.base_url)
        try:
            yield fake, bot
        finally:
            errors = await bot.stop()
            if bot.process.returncode != 0:
                print(f"  ({bot.name} exited {bot.process.returncode}: {errors[-500:]})")


def opinions_stored(url: str) -> Callable[[int], Awaitable[None]]:
    """A check that every journey stored its two opinions (none lost, none twice)."""
    async def verify(journeys: int) -> None:
        rows = Rows(url)
        try:
            stored = await rows.count(m.Opinion)
        finally:
            await rows.close()
        if stored != 2 * journeys:
            raise SystemExit(f"{stored} opinions stored for {journeys} journeys of two")
    return verify


@contextlib.asynccontextmanager
async def database(kind: str, server: str | None, folder: Path) -> AsyncIterator[str]:
    """A migrated database with the demo lab: a SQLite file or a throwaway PostgreSQL one."""
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{folder / f'bench-{next(ids)}.db'}"
        await prepare_database(url)
        yield url
        return
    assert server is not None
    # It runs its own event loop for the admin connection: from a thread.
    throwaway = services.throwaway_postgres(server)
    url = await asyncio.to_thread(throwaway.__enter__)
    try:
        await prepare_database(url)
        yield url
    finally:
        await asyncio.to_thread(throwaway.__exit__, None, None, None)


def _framework_and_mode(result: Result) -> tuple[str, str]:
    return result.bot.split("-")[1], "webhook" if result.bot.endswith("-webhook") else "polling"


def print_table(results: list[Result]) -> None:
    """Each row against the echo bot of its framework taking updates the same
    way (a webhook costs both bots, and the fake, more than polling), and,
    for the webhook rows, against the polling echo as well; each ratio from
    one round (the echo measured minutes, not half an hour, away), then the
    median over the rounds, with their range when there were several."""
    echo = {(*_framework_and_mode(r), r.round): r for r in results if r.bot.startswith("echo")}

    def echo_of(r: Result, mode: str | None = None) -> Result:
        # main() runs the polling echo and one for each mode, in every round.
        framework, own_mode = _framework_and_mode(r)
        return echo[(framework, mode or own_mode, r.round)]

    rows: dict[tuple[str, str], list[Result]] = {}
    for r in results:
        rows.setdefault((r.bot, r.database), []).append(r)
    print()
    print("| bot | database | updates/s | × echo | × polling echo | p50 ms | p99 ms "
          "| CPU ms/update | echo's CPU ÷ this CPU | bot's core | generator's core "
          "| database's core |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (bot, database), runs in rows.items():
        rate = [r.updates_per_s for r in runs]
        same = [r.updates_per_s / echo_of(r).updates_per_s for r in runs]
        polling = [r.updates_per_s / echo_of(r, "polling").updates_per_s for r in runs]
        cpu = [echo_of(r).cpu_ms_per_update / r.cpu_ms_per_update for r in runs]
        database_share = (format(_median(runs, "database_core"), ".0%")
                          if database == "postgresql" else "-")
        print(f"| {bot} | {database} | {_spread(rate, ',.0f')} | {_spread(same, '.2f')} | "
              f"{_spread(polling, '.2f')} | {_median(runs, 'p50_ms'):.1f} | "
              f"{_spread([r.p99_ms for r in runs], '.1f')} | "
              f"{_median(runs, 'cpu_ms_per_update'):.2f} | {_spread(cpu, '.2f')} | "
              f"{_median(runs, 'bot_core'):.0%} | {_median(runs, 'generator_core'):.0%} | "
              f"{database_share} |")
    worst = max(r.lag_ms for r in results)
    rounds = len({r.round for r in results})
    print(f"\n({rounds} round(s); the load generator's worst lag behind the 100/s "
          f"schedule: {worst:.0f} ms)")


def _spread(values: list[float], form: str) -> str:
    """The median, and the range when there were several rounds."""
    text = format(statistics.median(values), form)
    if len(values) > 1:
        text += f" ({format(min(values), form)}-{format(max(values), form)})"
    return text


def _median(runs: list[Result], field: str) -> float:
    return statistics.median(getattr(r, field) for r in runs)


def print_profile(path: Path, updates: int) -> None:
    """Own time by package (where the CPU goes), then the busiest functions."""
    import json
    import pstats

    stats = pstats.Stats(str(path))
    gc_seconds = json.loads(Path(f"{path}.gc").read_text())["gc_seconds"]
    by_package: Counter[str] = Counter()
    for (file, _, function), (_, _, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        by_package[_package(file, function)] += own
    total = sum(by_package.values())
    print(f"\nOwn CPU time by package ({total / updates * 1000:.2f} ms per update "
          "under the profiler):")
    for package, seconds in by_package.most_common(15):
        print(f"  {package:28} {seconds / updates * 1000:6.3f} ms/update  "
              f"{seconds / total:6.1%}")
    print(f"  (the garbage collector, inside the figures above: "
          f"{gc_seconds / updates * 1000:.3f} ms/update, {gc_seconds / total:.1%})")
    stats.sort_stats("tottime").print_stats(20)


def _package(file: str, function: str) -> str:
    if "site-packages/" in file:
        return file.split("site-packages/")[1].split("/")[0].removesuffix(".py")
    if file.startswith(str(ROOT)):
        return "participa/" + file[len(str(ROOT)) + 1:].split("/")[0]
    if file == "~":  # C functions: name the method (socket send, epoll, queue...)
        return "builtin " + function.split(" of ")[0].strip("{}<>").replace("method ", "")
    return "stdlib " + Path(file).stem


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--citizens", type=int, default=200)
    parser.add_argument("--load-updates", type=int, default=1000,
                        help="updates offered at --rate for the latency figures")
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--frameworks", default="aiogram,ptb")
    parser.add_argument("--modes", default="polling,webhook",
                        help="how Participa and the echo bots take updates (the "
                             "polling echo runs in any case)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run every bot this many times, in turn; the table shows "
                             "medians and ranges (this machine's speed drifts)")
    parser.add_argument("--pin", action="store_true",
                        help="each bot on the first CPU, the fake and the citizens on the "
                             "others (a local PostgreSQL server is left where it runs)")
    parser.add_argument("--database-url", default=services.postgres_server_url(),
                        help="a PostgreSQL server (default: TEST_DATABASE_URL)")
    parser.add_argument("--profile", action="store_true",
                        help="instead: profile Participa (the first of --frameworks and "
                             "of --modes, on PostgreSQL when a server is given, else SQLite)")
    parser.add_argument("--profile-output", type=Path,
                        help="with --profile: keep cProfile's figures in this file "
                             "(for pstats or snakeviz)")
    args = parser.parse_args()
    if args.pin:
        pin()
    folder = Path(tempfile.mkdtemp(prefix="participa-throughput-"))
    try:
        if args.profile:
            await profile(args, folder)
            return
        results: list[Result] = []
        kinds = ["sqlite"] + (["postgresql"] if args.database_url else [])
        modes = args.modes.split(",")
        for framework in args.frameworks.split(","):
            for round_ in range(args.rounds):
                # The polling echo always: the webhook rows are also set against it.
                for mode in ["polling"] + [m for m in modes if m != "polling"]:
                    async with running(lambda base, f=framework, o=mode:
                                       start_echo(f, base, folder, o)) as (fake, bot):
                        results.append(await measure(fake, bot, ECHO, args, "-", round_=round_))
                        print(f"  {results[-1]}", flush=True)
                for kind in kinds:
                    for mode in modes:
                        async with database(kind, args.database_url, folder) as url:
                            async with running(lambda base, f=framework, u=url, o=mode:
                                               start_participa(f, base, u, folder, None, o)) as (
                                    fake, bot):
                                results.append(await measure(
                                    fake, bot, JOURNEY, args, kind, opinions_stored(url),
                                    round_=round_))
                                print(f"  {results[-1]}", flush=True)
        print_table(results)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def profile(args: argparse.Namespace, folder: Path) -> None:
    output = folder / "participa.prof"
    kind = "postgresql" if args.database_url else "sqlite"
    framework, mode = args.frameworks.split(",")[0], args.modes.split(",")[0]
    async with database(kind, args.database_url, folder) as url:
        async with running(lambda base: start_participa(framework, base, url, folder,
                                                        output, mode)) as (fake, bot):
            result = await measure(fake, bot, JOURNEY, args, kind, opinions_stored(url))
            print(f"{framework} ({mode}) on {kind}, under the profiler: {result}")
    print_profile(output, args.citizens * len(JOURNEY))
    if args.profile_output:
        shutil.copyfile(output, args.profile_output)


if __name__ == "__main__":
    asyncio.run(main())
