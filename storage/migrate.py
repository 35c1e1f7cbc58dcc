"""Schema migrations, for ``participa db upgrade|downgrade|current``.

The Alembic configuration is built here, in code, pointing at the
``migrations`` folder beside this module: it works from a source checkout
and from an installed wheel, with no ``alembic.ini`` (that file is for
developers writing new revisions). Each call opens its own engine, runs in
one transaction where the backend allows it, and disposes of the engine.

These functions are synchronous (they run their own event loop), so the
command line calls them directly; async code calls them through
``asyncio.to_thread``. Workers never migrate on start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from storage.database import create_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

T = TypeVar("T")


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _with_connection(url: str, work: Callable[[Connection, Config], T]) -> T:
    async def run() -> T:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.begin() as connection:
                return await connection.run_sync(work, _config())
        finally:
            await engine.dispose()

    return asyncio.run(run())


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (the newest by default)."""

    def work(connection: Connection, config: Config) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    _with_connection(url, work)


def downgrade(url: str, revision: str = "-1") -> None:
    """Step the schema back to ``revision`` (one step by default; "base" drops it all)."""

    def work(connection: Connection, config: Config) -> None:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    _with_connection(url, work)


def current(url: str) -> str | None:
    """The revision the database is at, or None when it was never migrated."""

    def work(connection: Connection, _config: Config) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    return _with_connection(url, work)


def head() -> str:
    """The newest revision shipped with this version of the code."""
    found = ScriptDirectory.from_config(_config()).get_current_head()
    if found is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS}")
    return found


def is_up_to_date(url: str) -> bool:
    """Whether the database is at the newest revision (a worker checks this on start)."""
    return current(url) == head()
