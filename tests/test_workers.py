"""``participa run --workers N``: refused without what workers need to agree;
the scheduling lease is held by one worker at a time."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from redis.asyncio import Redis

from bot.cli import main
from bot.config import load_settings
from bot.workers import shifted, worker_settings
from storage.leases import RedisLease
from tests.e2e import SECRET, TOKEN


@pytest.fixture
def environment(monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("WEBHOOK_URL", "REDIS_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    return monkeypatch


@pytest.mark.parametrize("env, missing", [
    ({}, "webhook mode (WEBHOOK_URL; polling from two processes gets 409), "
         "PostgreSQL (DATABASE_URL), Redis (REDIS_URL)"),
    ({"WEBHOOK_URL": "https://bot.example.org/tg", "WEBHOOK_SECRET": SECRET,
      "DATABASE_URL": "postgresql+asyncpg://u@db/participa"}, "Redis (REDIS_URL)"),
    ({"REDIS_URL": "redis://127.0.0.1:6379/0",
      "DATABASE_URL": "postgresql+asyncpg://u@db/participa"},
     "webhook mode (WEBHOOK_URL; polling from two processes gets 409)"),
])
def test_several_workers_are_refused_with_one_line(environment, capsys, env, missing):  # type: ignore[no-untyped-def]
    for name, value in env.items():
        environment.setenv(name, value)
    assert main(["run", "--workers", "3"]) == 2
    assert capsys.readouterr().err == f"participa: --workers 3 needs {missing}\n"


def test_port_ranges_that_overlap_are_refused(environment, capsys):  # type: ignore[no-untyped-def]
    for name, value in {"WEBHOOK_URL": "https://bot.example.org/tg", "WEBHOOK_SECRET": SECRET,
                        "DATABASE_URL": "postgresql+asyncpg://u@db/participa",
                        "REDIS_URL": "redis://127.0.0.1:6379/0"}.items():
        environment.setenv(name, value)
    # The defaults, 8080 and 8081, suit one process only.
    assert main(["run", "--workers", "2"]) == 2
    assert capsys.readouterr().err == (
        "participa: --workers 2 needs WEBHOOK_LISTEN and OPS_LISTEN at least 2 ports apart "
        "(workers take 8080-8081 and 8081-8082), e.g. 127.0.0.1:8100 and 127.0.0.1:9100\n")


def test_each_worker_listens_on_its_own_ports(environment):  # type: ignore[no-untyped-def]
    environment.setenv("WEBHOOK_LISTEN", "0.0.0.0:8080")
    environment.setenv("OPS_LISTEN", "127.0.0.1:9100")
    third = worker_settings(load_settings(), 2)
    assert (third.webhook_listen, third.ops_listen) == ("0.0.0.0:8082", "127.0.0.1:9102")
    assert shifted("[::1]:8080", 1) == "[::1]:8081"


@pytest.fixture
async def redis(redis_prefix):  # type: ignore[no-untyped-def]
    if redis_prefix is None:
        pytest.skip("TEST_REDIS_URL is not set")
    url, prefix = redis_prefix
    client = Redis.from_url(url)
    yield client, prefix
    await client.aclose()


async def test_one_worker_at_a_time_holds_the_scheduling_lease(redis):  # type: ignore[no-untyped-def]
    client, prefix = redis
    leases = [RedisLease(client, f"{prefix}lease:scheduler", ttl=5) for _ in range(3)]
    assert [await lease.tick() for lease in leases] == [True, False, False]
    # Renewing keeps it; the others keep asking in vain.
    assert [await lease.tick() for lease in leases] == [True, False, False]
    await leases[0].release()
    assert [await lease.tick() for lease in leases[1:]] == [True, False]
    assert not leases[0].held


async def test_a_lease_not_renewed_expires_and_another_worker_takes_it(redis):  # type: ignore[no-untyped-def]
    client, prefix = redis
    first, second = (RedisLease(client, f"{prefix}lease:x", ttl=5) for _ in range(2))
    assert await first.tick()
    await client.delete(f"{prefix}lease:x")  # as if its TTL ran out (the holder hung)
    assert await second.tick()
    assert not await first.tick()  # it notices on its next renewal


async def test_a_lease_is_given_up_when_redis_is_unreachable():  # type: ignore[no-untyped-def]
    from tests.test_shared_services import closed_port

    dead = Redis.from_url(f"redis://127.0.0.1:{closed_port()}/0", socket_connect_timeout=1)
    lease = RedisLease(dead, "x:lease", ttl=5)
    lease._held = True  # it held the lease before Redis went away
    assert not await lease.tick()
    stop = asyncio.Event()
    stop.set()
    await lease.run(stop)
    await dead.aclose()


async def test_housekeeping_runs_only_in_the_lease_holder(sql_backend, monkeypatch):  # type: ignore[no-untyped-def]
    from bot import app

    runs: list[str] = []

    async def prune(sessions, now):  # type: ignore[no-untyped-def]
        runs.append("prune")
        return 0

    monkeypatch.setattr(app, "prune_processed_updates", prune)
    monkeypatch.setattr(app, "LEADER_CHECK_S", 0.05)
    from tests.test_workshop_app import NotHolding, runtime

    running = runtime(sql_backend)
    running.settings = SimpleNamespace(retention_days=730)
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.3, stop.set)
    await app.housekeeping(running, stop, NotHolding())
    assert runs == []
    stop.clear()
    asyncio.get_running_loop().call_later(0.3, stop.set)
    await app.housekeeping(running, stop)  # the only process (or the holder)
    assert runs == ["prune"]  # once: the next is due in an hour


def test_the_metrics_folder_is_emptied_at_start(monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    from bot.workers import prepare_metrics_dir

    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_12345.db").write_bytes(b"from the last run")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    assert prepare_metrics_dir(3) is None  # the operator's folder: kept, emptied
    assert list(folder.iterdir()) == []


def test_workers_that_cannot_start_stop_everything_with_the_reason(tmp_path):  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys

    from tests import services
    from tests.deploy_files import ROOT

    server = services.postgres_server_url()
    if server is None:
        pytest.skip("TEST_DATABASE_URL is not set")
    with services.throwaway_postgres(server) as url:  # never migrated
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT),
               "BOT_TOKEN": TOKEN, "DATABASE_URL": url, "REDIS_URL": "redis://127.0.0.1:1/0",
               "WEBHOOK_URL": "https://bot.example.org/tg", "WEBHOOK_SECRET": SECRET,
               "WEBHOOK_LISTEN": "127.0.0.1:8100", "OPS_LISTEN": "127.0.0.1:9100"}
        found = subprocess.run([sys.executable, "-m", "bot.cli", "run", "--workers", "2"],
                               cwd=tmp_path, env=env, capture_output=True, text=True,
                               timeout=60)
    assert found.returncode == 1, found.stderr
    assert "cannot start: the database is not up to date: run `participa db upgrade` first" \
        in found.stderr
    # Not restarted over and over: one start per worker at most.
    assert found.stderr.count("started (pid") <= 2
