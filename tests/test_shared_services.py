"""Redis locks and limits shared by processes; unreachable services lose nothing."""

from __future__ import annotations

import asyncio
import socket

import pytest
from redis.asyncio import Redis

from conversations.engine import Engine, Unavailable
from conversations.settings import FlowSettings
from storage.database import create_engine, session_factory
from storage.limits import RedisThrottle
from storage.locks import RedisLocks
from storage.sql import SqlUnitOfWork
from tests.harness import NOW, Person, SqlBackend, make_engine


@pytest.fixture
async def redis(redis_prefix):  # type: ignore[no-untyped-def]
    if redis_prefix is None:
        pytest.skip("TEST_REDIS_URL is not set")
    url, prefix = redis_prefix
    client = Redis.from_url(url)
    yield client, prefix
    await client.aclose()


def closed_port() -> int:
    """A local port nothing listens on (bound and released at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_redis_locks_exclude_across_processes(redis):  # type: ignore[no-untyped-def]
    client, prefix = redis
    # Two lock managers stand for two worker processes sharing one Redis.
    workers = [RedisLocks(client, prefix), RedisLocks(client, prefix)]
    inside, overlaps = 0, 0

    async def critical(locks: RedisLocks) -> None:
        nonlocal inside, overlaps
        async with locks.hold("chat:1"):
            inside += 1
            overlaps += inside > 1
            await asyncio.sleep(0.002)
            inside -= 1

    await asyncio.gather(*(critical(workers[n % 2]) for n in range(40)))
    assert overlaps == 0
    assert await client.keys(f"{prefix}lock:*") == []


async def test_redis_throttle_is_shared(redis):  # type: ignore[no-untyped-def]
    client, prefix = redis
    a, b = RedisThrottle(client, prefix, 3), RedisThrottle(client, prefix, 3)
    verdicts = [await (a if n % 2 else b).check("citizen-9") for n in range(5)]
    assert [v.allowed for v in verdicts] == [True, True, True, False, False]
    assert [v.first_refusal for v in verdicts] == [False, False, False, True, False]


async def test_a_journey_on_postgresql_and_redis(redis, backend):  # type: ignore[no-untyped-def]
    if backend.name != "postgresql":
        pytest.skip("the production pairing: PostgreSQL with Redis")
    client, prefix = redis
    await backend.add_lab("tu-atencion", "Tu Atención", ["Phone line 012"])
    engine = Engine(uow=backend.uow, settings=FlowSettings(), clock=lambda: NOW,
                    locks=RedisLocks(client, prefix),
                    throttle=RedisThrottle(client, prefix, 100))
    ana = Person(engine)
    await ana.consent()
    await ana.press("Give my opinion")
    await ana.press("Phone line 012")
    send_rating = ana.button("5")
    # The same press delivered to two workers at once: handled exactly once.
    twin = Engine(uow=backend.uow, settings=FlowSettings(), clock=lambda: NOW,
                  locks=RedisLocks(client, prefix))
    results = await asyncio.gather(
        ana.press_data(send_rating, update_id=990_001),
        Person(twin, id=ana.id).press_data(send_rating, update_id=990_001))
    assert sorted(r.duplicate for r in results) == [False, True]
    await ana.press("Skip")
    await ana.press("Send")
    assert [o["rating"] for o in await backend.opinions()] == [5]


async def test_redis_down_leaves_the_update_for_redelivery(backend):  # type: ignore[no-untyped-def]
    if backend.name == "memory":
        pytest.skip("needs a database to show that nothing was stored")
    await backend.add_lab("tu-atencion", "Tu Atención", ["Phone line 012"])
    dead = Redis.from_url(f"redis://127.0.0.1:{closed_port()}/0", socket_connect_timeout=1)
    engine = Engine(uow=backend.uow, settings=FlowSettings(), clock=lambda: NOW,
                    locks=RedisLocks(dead, "x:"))
    with pytest.raises(Unavailable):
        await Person(engine).command("/start")
    # Nothing was recorded, so the redelivered update is handled in full later.
    assert await backend.count("processed_updates") == 0
    await dead.aclose()


async def test_database_down_leaves_the_update_for_redelivery():  # type: ignore[no-untyped-def]
    db = create_engine(f"postgresql://postgres@127.0.0.1:{closed_port()}/nowhere")
    engine = Engine(uow=lambda: SqlUnitOfWork(session_factory(db)), settings=FlowSettings())
    with pytest.raises(Unavailable):
        await Person(engine).text("hola")
    await db.dispose()


async def test_a_database_without_its_schema_is_unavailable_not_a_bug(tmp_path):  # type: ignore[no-untyped-def]
    db = create_engine(f"sqlite+aiosqlite:///{tmp_path}/empty.sqlite")
    try:
        backend = SqlBackend(session_factory(db), "sqlite")
        with pytest.raises(Unavailable):
            await Person(make_engine(backend)).text("hola")
    finally:
        await db.dispose()
