"""SQLite in the event loop's thread: a lock held by another process is waited
for without freezing the loop, and given up with the usual error in the end."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from storage import sqlite_inline
from storage.database import create_engine
from storage.errors import is_unavailable


def _table(path: Path) -> None:
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE said (what TEXT)")


async def test_a_writer_waits_for_another_process_lock_while_the_loop_runs(tmp_path):
    path = tmp_path / "locked.db"
    _table(path)
    other = sqlite3.connect(path, isolation_level=None)  # the CLI, say
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO said VALUES ('cli')")
    engine = create_engine(f"sqlite:///{path}")
    ticks = 0

    async def heartbeat() -> None:  # what /healthz and the other chats need
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    beating = asyncio.create_task(heartbeat())
    asyncio.get_running_loop().call_later(0.5, other.commit)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO said VALUES ('bot')"))
        async with engine.connect() as connection:
            rows = (await connection.execute(text("SELECT what FROM said ORDER BY what"))).all()
    finally:
        beating.cancel()
        other.close()
        await engine.dispose()
    assert [r.what for r in rows] == ["bot", "cli"]
    assert ticks >= 20, f"the event loop stood still while waiting ({ticks} ticks in 0.5 s)"


async def test_a_lock_held_too_long_is_an_outage_not_a_freeze(tmp_path, monkeypatch):
    path = tmp_path / "stuck.db"
    _table(path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    monkeypatch.setattr("storage.database.SQLITE_BUSY_TIMEOUT_MS", 300)
    engine = create_engine(f"sqlite:///{path}")
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        with pytest.raises(OperationalError) as raised:
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO said VALUES ('bot')"))
    finally:
        other.close()
        await engine.dispose()
    assert "locked" in str(raised.value)
    assert is_unavailable(raised.value)  # the update is left for redelivery
    assert 0.25 <= loop.time() - started < 5


async def test_busy_retries_only_what_sqlite_refused_for_a_lock():
    calls = 0

    def broken() -> None:
        nonlocal calls
        calls += 1
        raise sqlite3.OperationalError("no such table: said")

    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        await sqlite_inline.Busy(1.0).run(broken)
    assert calls == 1


async def test_a_closed_connection_is_not_rolled_back_again(tmp_path):
    """SQLAlchemy skips commit and rollback on a connection whose driver
    connection is gone, as aiosqlite reports it once closed."""
    connect = sqlite_inline.connector(lambda: ((str(tmp_path / "closed.db"),), {}), 1.0)
    connection = await connect()
    assert connection._connection is not None
    await connection.close()
    assert connection._connection is None
    connection.stop()  # twice is harmless (SQLAlchemy may terminate after closing)
