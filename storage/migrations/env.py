"""Alembic environment: run migrations on a connection handed in, or on a URL.

Two ways in:

* programmatically (:mod:`storage.migrate`, tests): a *sync* Connection in
  ``config.attributes["connection"]``; the caller owns the transaction;
* the ``alembic`` command line (developers, with ``alembic.ini``): the URL
  from ``sqlalchemy.url`` or ``DATABASE_URL``, through the same async engine
  the bot uses, migrations run via ``connection.run_sync``.

``render_as_batch`` makes every ALTER a table rebuild on SQLite, which cannot
alter or drop constraints in place; the naming convention in
:class:`storage.models.Base` gives those constraints stable names.
"""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from storage.database import create_engine, normalise_url
from storage.models import Base
from storage.types import UTCDateTime

config = context.config
target_metadata = Base.metadata

# Only the command line has an ini file; the bot keeps its own logging set-up.
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Migrations must not depend on application types that may change later:
    UTCDateTime is stored as a plain timezone-aware DateTime."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        render_item=render_item,
        **kwargs,
    )


def _database_url() -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL")
    if not url:
        raise RuntimeError("no database: set sqlalchemy.url or DATABASE_URL")
    return url


def run_migrations_offline() -> None:
    """``alembic upgrade --sql``: print the SQL instead of running it."""
    _configure(url=normalise_url(_database_url()), literal_binds=True,
               dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run_on(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_on_url(url: str) -> None:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_on)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    asyncio.run(_run_on_url(_database_url()))


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
