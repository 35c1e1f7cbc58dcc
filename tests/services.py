"""Throwaway databases and Redis prefixes for one test run.

Tests never touch what DATABASE_URL points at and never flush Redis: each
run gets its own PostgreSQL database (created from TEST_DATABASE_URL's
server, dropped afterwards) and its own Redis key prefix (deleted by scan).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def postgres_server_url() -> str | None:
    return os.environ.get("TEST_DATABASE_URL") or None


def redis_url() -> str | None:
    return os.environ.get("TEST_REDIS_URL") or None


@contextmanager
def throwaway_postgres(server_url: str) -> Iterator[str]:
    """Create ``participa_test_<random>`` on the server, yield its async URL, drop it."""
    name = f"participa_test_{uuid.uuid4().hex[:12]}"
    admin_url = make_url(server_url).set(drivername="postgresql+psycopg2"
                                         if _has_psycopg2() else "postgresql+asyncpg")
    _admin(admin_url, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server_url).set(drivername="postgresql+asyncpg", database=name) \
            .render_as_string(hide_password=False)
    finally:
        _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _has_psycopg2() -> bool:
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        return False
    return True


def _admin(url, statement: str) -> None:  # type: ignore[no-untyped-def]
    """Run CREATE/DROP DATABASE (outside a transaction) on the server's admin DB."""
    if url.drivername.endswith("asyncpg"):
        import asyncio

        import asyncpg

        async def run() -> None:
            conn = await asyncpg.connect(host=url.host, port=url.port or 5432,
                                         user=url.username, password=url.password,
                                         database=url.database or "postgres")
            try:
                await conn.execute(statement)
            finally:
                await conn.close()

        asyncio.run(run())
        return
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(statement))
    engine.dispose()


def sqlite_url(folder: Path) -> str:
    return f"sqlite+aiosqlite:///{folder / 'participa.db'}"


def new_redis_prefix() -> str:
    return f"participa-test-{uuid.uuid4().hex[:12]}:"


async def delete_redis_prefix(url: str, prefix: str) -> None:
    from redis.asyncio import Redis

    redis = Redis.from_url(url)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*", count=500)]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()
