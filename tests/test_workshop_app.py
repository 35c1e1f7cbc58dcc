"""The bot process's part: the bot's username from getMe, and the minute job loop."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from types import SimpleNamespace

from bot.app import learn_bot_username, workshop_jobs
from conversations.engine import Engine
from conversations.settings import FlowSettings
from storage.sql import SqlUnitOfWork
from tests.harness import NOW
from tests.test_workshop_jobs import full_workshop_with_queue, give_up
from tests.workshop_people import Clock, outbox


class Transport:
    def __init__(self, username: str | None = None, error: Exception | None = None) -> None:
        self.username, self.error = username, error

    async def bot_username(self) -> str | None:
        if self.error:
            raise self.error
        return self.username


def runtime(backend, clock=lambda: NOW):  # type: ignore[no-untyped-def]
    engine = Engine(uow=lambda: SqlUnitOfWork(backend.sessions), settings=FlowSettings(),
                    clock=clock)
    return SimpleNamespace(engine=engine, sessions=backend.sessions)


async def test_the_username_from_getme_reaches_the_flows(sql_backend):  # type: ignore[no-untyped-def]
    running = runtime(sql_backend)
    await learn_bot_username(running, Transport(error=ConnectionError("Telegram is away")))
    assert running.engine.settings.bot_username == ""
    await learn_bot_username(running, Transport("participa_bot"))
    assert running.engine.settings.bot_username == "participa_bot"


async def test_the_job_loop_expires_offers_and_wakes_the_sender(sql_backend):  # type: ignore[no-untyped-def]
    clock = Clock()
    ana, bea, cai = await full_workshop_with_queue(sql_backend, clock)
    await give_up(ana)
    clock.now = NOW + timedelta(hours=24)
    stop = asyncio.Event()
    await asyncio.wait_for(workshop_jobs(runtime(sql_backend, clock), stop, stop.set), 10)
    assert len(await outbox(sql_backend, cai.id)) == 1  # the seat offered to the next one
    assert any("is over" in r["body"] for r in await outbox(sql_backend, bea.id))


class NotHolding:
    """Another worker holds the scheduling lease."""

    held = False

    async def tick(self) -> bool:
        return False


async def test_the_job_loop_leaves_the_jobs_to_the_lease_holder(sql_backend):  # type: ignore[no-untyped-def]
    clock = Clock()
    ana, _, cai = await full_workshop_with_queue(sql_backend, clock)
    await give_up(ana)
    clock.now = NOW + timedelta(hours=24)
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.3, stop.set)
    await asyncio.wait_for(workshop_jobs(runtime(sql_backend, clock), stop, stop.set,
                                         NotHolding()), 10)
    assert await outbox(sql_backend, cai.id) == []  # nothing done here
