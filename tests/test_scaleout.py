"""Three workers behind nginx: every citizen's journey is stored once and
their replies come in order, with updates delivered twice and the same
update handed to two workers at once.

Real processes: ``participa run --workers 3`` (PostgreSQL, Redis) behind
nginx (deploy/nginx.conf), the fake Bot API POSTing to nginx as Telegram
does. Skipped without TEST_DATABASE_URL and TEST_REDIS_URL, or without
nginx on the machine.
"""

from __future__ import annotations

import asyncio
import html
import os
import re
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.workers import RESTART_PAUSE_S
from storage import models as m
from tests import services
from tests.cluster import Cluster
from tests.deploy_files import nginx_binary
from tests.e2e import Citizen, Rows, label, settle
from tests.fake_bot_api import FakeBotAPI, Sent
from tests.test_crash_recovery import eventually

CITIZENS = 24
pytestmark = pytest.mark.skipif(
    not (services.postgres_server_url() and services.redis_url()) or nginx_binary() is None,
    reason="needs TEST_DATABASE_URL, TEST_REDIS_URL and nginx")


@pytest.fixture
def database(migrated_postgres: str) -> str:
    return migrated_postgres


@pytest.fixture
def send_rate() -> str:
    """SEND_RATE of the workers: the default, shared through Redis."""
    return "25"


@pytest.fixture
async def cluster(fake, database, redis_prefix, send_rate,  # type: ignore[no-untyped-def]
                  tmp_path: Path) -> AsyncIterator[Cluster]:
    url, prefix = redis_prefix
    running = Cluster(fake, tmp_path, workers=3, database_url=database, redis_url=url,
                      redis_prefix=prefix,
                      env={"THROTTLE_PER_MINUTE": "0", "SEND_RATE": send_rate})
    try:
        await running.start()
        yield running
    finally:
        code = await running.stop()
        assert code == 0, f"the workers did not stop cleanly ({code}):\n{running.log}"


class Twice(Citizen):
    """Telegram delivers each of this citizen's updates a second time after
    the first was accepted (a lost 200): nothing happens the second time."""

    async def handled(self, action):  # type: ignore[no-untyped-def]
        sent = await super().handled(action)
        again = await self.fake.deliver(sent.update)
        assert again.status == 200, again.error
        return sent


class Racing(Citizen):
    """Each press reaches two workers at the same moment (nginx retried on
    another worker while the first still handled it)."""

    def __init__(self, fake: FakeBotAPI, user, cluster: Cluster, index: int) -> None:  # type: ignore[no-untyped-def]
        super().__init__(fake, user)
        self.cluster = cluster
        self.index = index

    async def press(self, fragment: str, message=None):  # type: ignore[no-untyped-def]
        target = message or self.screen
        sent = await self.user.press(target, label(target, fragment))
        await settle(self.fake, sent)
        first, second = self.index % 3, (self.index + 1) % 3
        statuses = await asyncio.gather(self.cluster.post_to_worker(first, sent.update),
                                        self.cluster.post_to_worker(second, sent.update))
        assert statuses == [200, 200]
        return sent


def comment_of(number: int) -> str:
    return f"Comment number {number} <i>from</i> citizen"


async def journey(citizen: Citizen, number: int, *, answered: bool = True) -> None:
    await citizen.consent()
    await citizen.press("Give my opinion")
    await citizen.press("E-government website")
    await citizen.press(str(1 + number % 5))
    await citizen.text(comment_of(number))
    sent = await citizen.press("Send")
    if answered:
        assert citizen.answer_to(sent).get("text") == "Sent. Thank you!"


def transcript(citizen: Citizen, number: int) -> list[str]:
    """What the citizen saw, each message with its edits, without what differs
    between citizens (the comment, the rating, the reference)."""
    seen = []
    for message in citizen.messages():
        for text in [*(text for text, _ in message.history), message.text]:
            text = (text or "").replace(html.escape(comment_of(number)), "C")
            text = re.sub(r"OP-\d+", "OP-n", text)
            seen.append(re.sub(r"[★☆]+ \(\d of 5\)", "R", text))
    return seen


async def test_three_workers_store_every_journey_once_and_answer_in_order(  # type: ignore[no-untyped-def]
        cluster, fake, database):
    people: list[Citizen] = []
    for number in range(CITIZENS):
        user = fake.user(7_000_000 + number, f"P{number}", language_code="en")
        if number % 4 == 1:
            people.append(Twice(fake, user))
        elif number % 4 == 2:
            people.append(Racing(fake, user, cluster, number))
        else:
            people.append(Citizen(fake, user))
    # Every citizen at once: their updates interleave across the workers.
    await asyncio.gather(*(journey(person, n) for n, person in enumerate(people)))

    rows = Rows(database)
    try:
        opinions = await rows.opinions()
        citizens = {c["id"]: c["telegram_id"] for c in await rows.all(m.Citizen)}
    finally:
        await rows.close()
    stored = sorted((citizens[o["citizen_id"]], o["rating"], o["comment"]) for o in opinions)
    assert stored == [(7_000_000 + n, 1 + n % 5, comment_of(n)) for n in range(CITIZENS)]

    # The same screens in the same order for everyone: two messages (the
    # menu that the presses edit, the summary), nothing twice, nothing missing.
    reference = transcript(people[0], 0)
    for number, person in enumerate(people):
        assert len(person.messages()) == 2, number
        assert transcript(person, number) == reference, number
    fake.assert_all_callbacks_answered()
    # One worker took the scheduling lease; the others left the jobs to it.
    assert len(re.findall(r"lease \S+lease:scheduler taken", cluster.log)) == 1, cluster.log
    assert cluster.log.count("worker 0 listening") == 1
    # Any worker's /metrics adds up what all of them handled: the 8 updates of
    # each journey (/start, 6 presses, the comment), and again (recognised as
    # duplicates) each update delivered twice, each press raced to 2 workers.
    scraped = await cluster.metrics(1)
    handled = sum(float(v) for v in re.findall(
        r'^participa_updates_total\{kind="\w+"\} (\S+)$', scraped, re.M))
    duplicates = float(re.search(r"^participa_duplicate_updates_total (\S+)$", scraped,
                                 re.M).group(1))
    twice = sum(1 for p in people if isinstance(p, Twice))
    racing = sum(1 for p in people if isinstance(p, Racing))
    assert duplicates == twice * 8 + racing * 6 * 2
    assert handled == CITIZENS * 8 + duplicates


# -- a worker SIGKILLed in the middle -------------------------------------------

#: The issue asks for 1,000 journeys; the suite runs 120 (a minute on two
#: cores). SCALEOUT_KILL_JOURNEYS=1000 runs the full figure.
KILL_JOURNEYS = int(os.environ.get("SCALEOUT_KILL_JOURNEYS", "120"))


#: A worker killed while it held a citizen's Redis lock leaves it to expire
#: (storage.locks: 60 s); meanwhile that citizen's updates get 503 and are
#: delivered again, as Telegram does for up to a day.
PATIENCE_S = 90.0


class Persistent(Citizen):
    """Telegram's side when a worker dies: anything but 200 is delivered again."""

    last: Sent | None = None

    async def handled(self, action):  # type: ignore[no-untyped-def]
        sent = self.last = await action()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PATIENCE_S
        while sent.status != 200:
            assert loop.time() < deadline, f"never accepted: {sent.status} {sent.error}"
            await asyncio.sleep(0.2)
            sent = await self.fake.deliver(sent.update)
        return sent


def worker_pids(supervisor: int) -> list[int]:
    """The supervisor's worker processes (not multiprocessing's resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if ppid == supervisor and b"spawn_main" in command:
            found.append(int(entry.name))
    return sorted(found)


# Like a local Bot API server: no send budget, so that many journeys at once
# are not queued behind the 25 messages a second (a press answered after
# Telegram's deadline is left unanswered, as Telegram would).
@pytest.mark.parametrize("send_rate", ["0"])
async def test_a_worker_killed_mid_run_loses_no_confirmed_submission(  # type: ignore[no-untyped-def]
        cluster, fake, database):
    assert cluster.bot is not None
    before = worker_pids(cluster.bot.pid)
    assert len(before) == 3
    people = [Persistent(fake, fake.user(8_000_000 + n, f"K{n}", language_code="en"))
              for n in range(KILL_JOURNEYS)]
    stuck: list[int] = []

    async def run(person: Citizen, number: int) -> None:
        try:
            # The press's answer may be lost with the worker: confirmation is the
            # message with the reference, checked below.
            await journey(person, number, answered=False)
        except AssertionError:
            # A reply lost with the worker (replies are at most once): the
            # screen the citizen would press on never came. Told apart below.
            stuck.append(number)

    async def kill_one() -> None:
        # About a third of the way: every journey edits its menu 6 times.
        await fake.wait_for(lambda: fake.count("editMessageText") >= KILL_JOURNEYS * 2, 120)
        os.kill(before[1], signal.SIGKILL)

    await asyncio.gather(kill_one(), *(run(p, n) for n, p in enumerate(people)))

    # The supervisor starts a new worker in its place, after its restart pause
    # (the journeys may all have ended before that: it is not waited for there).
    async def three_workers() -> bool:
        return len(worker_pids(cluster.bot.pid)) == 3

    await eventually(three_workers, "worker in the killed one's place", 10 * RESTART_PAUSE_S)
    assert before[1] not in worker_pids(cluster.bot.pid)
    rows = Rows(database)
    try:
        opinions = await rows.opinions()
        citizens = {c["id"]: c["telegram_id"] for c in await rows.all(m.Citizen)}
        # A stuck citizen's last update was handled and stored: only its
        # reply went down with the worker (replies are at most once).
        for number in stuck:
            last = people[number].last
            assert last is not None and await rows.seen(last.update_id)
    finally:
        await rows.close()
    by_citizen: dict[int, int] = {}
    for opinion in opinions:
        telegram_id = citizens[opinion["citizen_id"]]
        by_citizen[telegram_id] = by_citizen.get(telegram_id, 0) + 1
    confirmed = [p for p in people if any(
        "Your opinion is saved with the reference" in (msg.plain_text or "")
        for msg in p.messages())]
    # Every submission confirmed to a citizen is stored, exactly once; nobody twice.
    assert all(by_citizen.get(p.id) == 1 for p in confirmed)
    assert set(by_citizen.values()) <= {1}
    # Only citizens whose update was in the killed worker's hands lost a reply
    # (nginx gave it about a third of the citizens at once); the rest finished.
    assert len(confirmed) + len(stuck) == KILL_JOURNEYS
    assert len(stuck) <= KILL_JOURNEYS // 3 + 1, stuck
