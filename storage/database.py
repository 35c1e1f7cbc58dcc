"""Engines and sessions for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from storage import sqlite_inline

SQLITE_BUSY_TIMEOUT_MS = 30_000  # how long a writer waits for another process's lock
SQLITE_POOL_WAIT_S = 60
POSTGRES_RECYCLE_S = 1800


def normalise_url(url: str) -> str:
    """Accept the URLs people write (postgresql://, sqlite:///) with async drivers."""
    parsed = make_url(url)
    driver = {"postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg",
              "sqlite": "sqlite+aiosqlite"}.get(parsed.drivername)
    if driver:
        parsed = parsed.set(drivername=driver)
    return parsed.render_as_string(hide_password=False)


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        # One connection: SQLite has one writer at a time, and every unit of
        # work writes. Waiting for the pool is a queue in the event loop; letting
        # several connections contend instead makes SQLite's busy handler poll
        # with sleeps of up to 100 ms (measured: p50 reply latency 540 ms at
        # 50 concurrent citizens, against a few ms with one connection).
        #
        # That one connection runs in the event loop's thread, not in
        # aiosqlite's: see storage/sqlite_inline.py for why and what it costs.
        engine = create_async_engine(
            url, pool_size=1, max_overflow=0, pool_timeout=SQLITE_POOL_WAIT_S,
            async_creator=sqlite_inline.connector(
                lambda: engine.sync_engine.dialect.create_connect_args(engine.url),
                SQLITE_BUSY_TIMEOUT_MS / 1000))
        _configure_sqlite(engine)
        return engine
    # No overflow: connections beyond the pool were opened and closed again
    # under load (a TLS context, a DNS lookup and a PostgreSQL backend each
    # time; 3 % of the bot's CPU in bench/throughput.py). Updates beyond
    # pool_size wait their turn in the event loop, which costs nothing: one
    # process is CPU-bound long before ten connections are busy.
    # No pre-ping either: SQLAlchemy's ping is three round trips (BEGIN, ";",
    # ROLLBACK) before every transaction. A connection that died is found by
    # the transaction itself, SQLAlchemy then discards the whole pool, and
    # the engine leaves that update for redelivery (Unavailable), as it does
    # for any outage. pool_recycle retires connections before a firewall's
    # idle timeout silently cuts them.
    return create_async_engine(url, pool_size=pool_size, max_overflow=0,
                               pool_recycle=POSTGRES_RECYCLE_S)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        # WAL lets readers go on while one writer commits; foreign keys are
        # off by default in SQLite. Writers wait for the lock in the event
        # loop (storage/sqlite_inline.py), so SQLite's busy timeout stays 0.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        # The driver's own BEGIN is deferred: two transactions that read and
        # then write (a workshop sign-up) both start as readers, and the
        # second to write fails with "database is locked" at once, busy
        # timeout or not. SQLAlchemy's documented pysqlite/aiosqlite recipe:
        # the driver emits no BEGIN, and "begin" below emits BEGIN IMMEDIATE,
        # which takes the write lock up front, so concurrent writers wait
        # their turn instead of failing. (The driver connection is opened
        # with isolation_level=None by storage/sqlite_inline.py.)

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection):  # type: ignore[no-untyped-def]
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
