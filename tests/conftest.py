"""Shared fixtures: a migrated database per test on SQLite, and on PostgreSQL
and Redis when TEST_DATABASE_URL / TEST_REDIS_URL are given."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import pytest

from storage.database import create_engine, session_factory
from storage.models import Base
from tests import services
from tests.e2e import TOKEN, prepare_database
from tests.fake_bot_api import FakeBotAPI

BACKENDS = ["sqlite"] + (["postgresql"] if services.postgres_server_url() else [])


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """Undo what a test's ``participa`` command did to logging.

    ``cli.main`` installs a handler on the root logger that writes to the
    sys.stderr of that moment, which under pytest is the test's capture
    buffer; left in place it makes every later test's log line a "Logging
    error: I/O operation on closed file" once the buffer is closed.
    """
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    levels = {name: logger.level for name, logger in logging.root.manager.loggerDict.items()
              if isinstance(logger, logging.Logger)}
    yield
    root.handlers[:], level = saved
    root.setLevel(level)
    for name, logger_level in levels.items():
        logging.getLogger(name).setLevel(logger_level)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str | None]:
    """One throwaway PostgreSQL database for the whole run (tables reset per test)."""
    server = services.postgres_server_url()
    if not server:
        yield None
        return
    with services.throwaway_postgres(server) as url:
        yield url


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path, postgres_database) -> str:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return services.sqlite_url(tmp_path)
    assert postgres_database is not None
    return postgres_database


@pytest.fixture
async def db_engine(database_url: str):  # type: ignore[no-untyped-def]
    """An engine on a fresh schema (created from the models; migrations have their own tests)."""
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(Base.metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(db_engine):  # type: ignore[no-untyped-def]
    return session_factory(db_engine)


@pytest.fixture
async def redis_prefix() -> AsyncIterator[tuple[str, str] | None]:
    """(url, prefix) of a throwaway Redis key space, or None without TEST_REDIS_URL."""
    url = services.redis_url()
    if not url:
        yield None
        return
    prefix = services.new_redis_prefix()
    yield url, prefix
    await services.delete_redis_prefix(url, prefix)


@pytest.fixture(params=["memory", *BACKENDS])
async def backend(request, tmp_path, postgres_database):  # type: ignore[no-untyped-def]
    """The storage a flow test runs on: the in-memory fake, SQLite, PostgreSQL."""
    from tests.harness import MemoryBackend, SqlBackend

    if request.param == "memory":
        yield MemoryBackend()
        return
    url = services.sqlite_url(tmp_path) if request.param == "sqlite" else postgres_database
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(Base.metadata.create_all)
    yield SqlBackend(session_factory(engine), request.param)
    await engine.dispose()


@pytest.fixture(params=BACKENDS)
async def sql_backend(request, tmp_path, postgres_database):  # type: ignore[no-untyped-def]
    """SQLite and PostgreSQL only: for journeys whose repositories are SQL-only.

    The in-memory unit of work is the foundation's benchmark double; the
    journeys built on top of it (proposals, workshops, tickets) lean on the
    database for uniqueness and capacity, which only a real database proves.
    """
    from tests.harness import SqlBackend

    url = services.sqlite_url(tmp_path) if request.param == "sqlite" else postgres_database
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(Base.metadata.create_all)
    yield SqlBackend(session_factory(engine), request.param)
    await engine.dispose()


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    """The fake Bot API with the tests' token (a module may override it)."""
    async with FakeBotAPI(token=TOKEN) as server:
        yield server


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    """A throwaway PostgreSQL database. Sync: creating and dropping it runs an
    event loop of its own."""
    server = services.postgres_server_url()
    assert server is not None
    with services.throwaway_postgres(server) as url:
        yield url


@pytest.fixture
async def migrated_postgres(empty_postgres: str) -> str:
    """That database migrated, with the demo lab (the multi-process tests:
    faults, scale-out)."""
    await prepare_database(empty_postgres)
    return empty_postgres
