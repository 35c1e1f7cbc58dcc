"""A crash loses nothing and stores nothing twice: the bot as a real process, SIGKILLed.

``participa run`` (``python -m bot.cli run``) polls the fake Bot API with a
SQLite database. It is killed with SIGKILL at the two moments that matter
for the "Send" of an opinion, then started again; the fake hands the
unconfirmed update to the new process, as Telegram does:

* after the commit, while the replies are still on their way: the opinion
  is there once, and the citizen goes on from where the conversation is;
* before the commit, while its transaction waits for SQLite's write lock:
  nothing was stored, and the redelivered press stores the opinion once and
  thanks the citizen with its reference.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from storage import models as m
from tests.e2e import TOKEN, Citizen, Rows, free_port, prepare_database, settle, sqlite_file_url
from tests.fake_bot_api import FakeBotAPI

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 15.0


class BotProcess:
    """``participa run`` in a child process; output kept in a file for failures."""

    def __init__(self, fake: FakeBotAPI, database_url: str, folder: Path) -> None:
        self.fake = fake
        self.folder = folder
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(ROOT),
            "BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE": fake.base_url,
            "DATABASE_URL": database_url,
            "OPS_LISTEN": f"127.0.0.1:{free_port()}",
            "LOG_LEVEL": "INFO",
        }
        self.process: asyncio.subprocess.Process | None = None
        self.runs = 0

    @property
    def log(self) -> str:
        return "".join(path.read_text(errors="replace")
                       for path in sorted(self.folder.glob("bot-*.log")))

    async def start(self) -> None:
        """Start and wait until it polls (its first getUpdates after this start)."""
        self.runs += 1
        polls = self.fake.count("getUpdates")
        with (self.folder / f"bot-{self.runs}.log").open("wb") as output:
            # The working directory is the test's own: no stray .env is read.
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", "run", cwd=self.folder, env=self.env,
                stdout=output, stderr=asyncio.subprocess.STDOUT)
        await self.wait_for(lambda: self.fake.count("getUpdates") > polls, "its first poll",
                            START_TIMEOUT_S)

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()

    async def wait_for(self, predicate: Callable[[], bool], what: str,
                       timeout: float = 10.0) -> None:  # noqa: ASYNC109
        try:
            await self.fake.wait_for(
                lambda: predicate() or (self.process is not None
                                        and self.process.returncode is not None), timeout)
        except AssertionError:
            raise AssertionError(f"no {what} within {timeout} s; bot output:\n{self.log}"
                                 ) from None
        if not predicate():
            code = self.process.returncode if self.process is not None else None
            raise AssertionError(f"the bot exited ({code}) before {what}; output:\n{self.log}")


async def eventually(check: Callable[[], Any], what: str, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """Poll an async check with short sleeps (for the database, which does not notify)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"no {what} within {timeout} s")
        await asyncio.sleep(0.05)


def fetched(fake: FakeBotAPI, update_id: int) -> bool:
    """Whether a getUpdates answer has handed this update to the bot."""
    return any(update_id in [u["update_id"] for u in (call.response or {}).get("result") or []]
               for call in fake.calls_to("getUpdates") if call.status == 200)


@pytest.fixture
async def database(tmp_path: Path) -> str:
    url = sqlite_file_url(tmp_path)
    await prepare_database(url)
    return url


@pytest.fixture
async def rows(database: str) -> AsyncIterator[Rows]:
    reader = Rows(database)
    yield reader
    await reader.close()


@pytest.fixture
async def bot(fake: FakeBotAPI, database: str, tmp_path: Path) -> AsyncIterator[BotProcess]:
    process = BotProcess(fake, database, tmp_path)
    try:
        await process.start()
        yield process
    finally:
        await process.kill()


@pytest.fixture
async def ana(fake: FakeBotAPI, bot: BotProcess) -> Citizen:
    """A citizen who consented and is looking at the summary of an opinion."""
    citizen = Citizen(fake, fake.user(id=7001, first_name="Ana", username="ana",
                                      language_code="en"))
    await citizen.consent()
    await citizen.to_summary("Slow queue & no chairs")
    return citizen


@pytest.mark.parametrize("answer_arrived", [True, False],
                         ids=["answer-arrived", "answer-lost"])
async def test_killed_after_the_commit_keeps_one_opinion_and_the_conversation(  # type: ignore[no-untyped-def]
        fake, bot, ana, rows, answer_arrived):
    summary = ana.screen
    # The press's answer hangs (the first reply, sent only after the commit).
    # Either Telegram took it and only its response is late, or it never got it.
    fake.delay_next("answerCallbackQuery", 30, process_first=answer_arrived)
    answers = fake.count("answerCallbackQuery")
    sent = await ana.user.press(summary, "✅ Send")

    async def stored() -> bool:
        return await rows.count(m.Opinion) == 1

    await eventually(stored, "opinion row")
    await bot.wait_for(lambda: fake.count("answerCallbackQuery") > answers, "answer in flight")
    await bot.kill()
    assert sent.update_id not in fake.confirmed_update_ids  # the crash left it unconfirmed
    assert "OP-" not in summary.plain_text  # the thanks never went out

    await bot.start()
    await settle(fake, sent)  # handed to the new process, and confirmed by it
    assert await rows.count(m.Opinion) == 1
    state = await rows.state(ana.id)
    assert (state["flow"], state["state"], state["data"]["reference"]) == \
        ("op", "done", "OP-000001")
    # The redelivered press is answered too (no endless spinner), once.
    fake.assert_all_callbacks_answered()

    # The citizen presses Send again on the summary they still see: expired,
    # and the current screen (the thanks) is shown.
    again = await ana.press("Send", summary)
    assert ana.answer_to(again).get("text") == "This button has expired."
    thanks = ana.screen
    assert thanks is not summary
    assert "Your opinion is saved with the reference OP-000001" in thanks.plain_text
    await ana.press("Another service")
    assert "Which service do you want to give your opinion on?" in thanks.plain_text
    await ana.press("Cancel")
    assert await rows.count(m.Opinion) == 1
    fake.assert_all_callbacks_answered()
    assert bot.log.count("Traceback") == 0, bot.log


async def test_killed_before_the_commit_stores_the_redelivered_opinion_once(  # type: ignore[no-untyped-def]
        fake, bot, ana, rows, database):
    summary = ana.screen
    path = database.split("///", 1)[1]
    lock = sqlite3.connect(path, isolation_level=None, timeout=1)
    try:
        lock.execute("BEGIN IMMEDIATE")  # hold the write lock: "Send" waits for it
        answers = fake.count("answerCallbackQuery")
        sent = await ana.user.press(summary, "✅ Send")
        await bot.wait_for(lambda: fetched(fake, sent.update_id), "fetch of the press")
        await asyncio.sleep(0.5)  # let it reach its first write and wait there
        assert lock.execute("SELECT count(*) FROM opinions").fetchone() == (0,)
        assert lock.execute("SELECT count(*) FROM processed_updates WHERE update_id = ?",
                            (sent.update_id,)).fetchone() == (0,)
        assert fake.count("answerCallbackQuery") == answers  # the press is not answered yet
        await bot.kill()
    finally:
        lock.rollback()
        lock.close()
    assert sent.update_id not in fake.confirmed_update_ids

    await bot.start()
    await settle(fake, sent)
    [opinion] = await rows.opinions()
    assert (opinion["rating"], opinion["comment"]) == (4, "Slow queue & no chairs")
    assert "Your opinion is saved with the reference OP-000001" in summary.plain_text
    assert ana.answer_to(sent).get("text") == "Sent. Thank you!"
    assert (await rows.state(ana.id))["state"] == "done"
    fake.assert_all_callbacks_answered()


async def test_sigterm_finishes_the_update_in_hand_and_exits_cleanly(fake, bot, ana, rows):  # type: ignore[no-untyped-def]
    summary = ana.screen
    fake.delay_next("answerCallbackQuery", 1.0)  # the press is in hand when SIGTERM comes
    answers = fake.count("answerCallbackQuery")
    sent = await ana.user.press(summary, "✅ Send")
    await bot.wait_for(lambda: fake.count("answerCallbackQuery") > answers, "answer in flight")
    assert bot.process is not None
    bot.process.send_signal(signal.SIGTERM)
    code = await asyncio.wait_for(bot.process.wait(), 20)
    assert code == 0, bot.log
    assert await rows.count(m.Opinion) == 1
    assert "Your opinion is saved with the reference OP-000001" in summary.plain_text
    assert sent.update_id in fake.confirmed_update_ids  # confirmed before exiting
    fake.assert_all_callbacks_answered()
    assert bot.log.count("Traceback") == 0, bot.log
