"""Migrations build the schema the models describe, on SQLite and PostgreSQL.

The PostgreSQL database is shared by the whole run and other tests create
tables in it from the models, so every test here starts by dropping
everything (alembic_version included) and leaves the schema dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from storage import migrate
from storage.database import create_engine
from storage.models import Base

T = TypeVar("T")


def _on(url: str, work: Callable[[Connection], T]) -> T:
    """Run ``work`` on a sync connection to ``url`` in one committed transaction."""

    async def run() -> T:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.begin() as connection:
                return await connection.run_sync(work)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _drop_everything(connection: Connection) -> None:
    Base.metadata.drop_all(connection)
    connection.execute(text("DROP TABLE IF EXISTS alembic_version"))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def _differences(connection: Connection) -> list:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return compare_metadata(context, Base.metadata)


@pytest.fixture
def empty_url(database_url: str) -> Iterator[str]:
    _on(database_url, _drop_everything)
    yield database_url
    _on(database_url, _drop_everything)


def test_upgrade_downgrade_upgrade(empty_url: str) -> None:
    assert migrate.current(empty_url) is None
    assert not migrate.is_up_to_date(empty_url)

    migrate.upgrade(empty_url)
    assert migrate.current(empty_url) == migrate.head()
    assert migrate.is_up_to_date(empty_url)
    model_tables = set(Base.metadata.tables)
    assert model_tables <= _on(empty_url, _tables)

    migrate.downgrade(empty_url, "base")
    assert migrate.current(empty_url) is None
    assert _on(empty_url, _tables) - {"alembic_version"} == set()

    migrate.upgrade(empty_url)
    assert migrate.current(empty_url) == migrate.head()
    assert model_tables <= _on(empty_url, _tables)


def test_downgrade_defaults_to_one_step(empty_url: str) -> None:
    migrate.upgrade(empty_url)
    migrate.downgrade(empty_url)
    assert migrate.current(empty_url) == _previous(migrate.head())


def test_every_revision_goes_down_and_up_again(empty_url: str) -> None:
    """Each migration's downgrade undoes it exactly, one step at a time."""
    migrate.upgrade(empty_url)
    revisions = []
    while (revision := migrate.current(empty_url)) is not None:
        revisions.append(revision)
        migrate.downgrade(empty_url)
    assert revisions[0] == migrate.head() and len(revisions) >= 2
    for revision in reversed(revisions):
        migrate.upgrade(empty_url, revision)
        assert migrate.current(empty_url) == revision
    assert _on(empty_url, _differences) == []


def _previous(revision: str) -> str | None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate._config())
    return script.get_revision(revision).down_revision  # type: ignore[return-value]


def test_migrated_schema_matches_the_models(empty_url: str) -> None:
    migrate.upgrade(empty_url)
    assert _on(empty_url, _differences) == []


def test_migrated_schema_enforces_constraints_and_defaults(empty_url: str) -> None:
    migrate.upgrade(empty_url)

    def seed(connection: Connection) -> None:
        connection.execute(text(
            "INSERT INTO labs (id, slug, title, description, created_at) "
            "VALUES (1, 'lab', '{}', '{}', '2026-01-01 00:00:00')"))
        connection.execute(text(
            "INSERT INTO services (id, lab_id, slug, title, description) "
            "VALUES (1, 1, 'svc', '{}', '{}')"))
        connection.execute(text(
            "INSERT INTO citizens (telegram_id, language, first_seen, last_seen) "
            "VALUES (5000000000, 'es', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"))

    _on(empty_url, seed)

    def opinion(rating: int) -> Callable[[Connection], None]:
        def insert(connection: Connection) -> None:
            connection.execute(text(
                "INSERT INTO opinions (service_id, rating, language, channel, created_at) "
                "VALUES (1, :rating, 'es', 'telegram', '2026-01-01 00:00:00')"),
                {"rating": rating})
        return insert

    _on(empty_url, opinion(5))
    with pytest.raises(IntegrityError):
        _on(empty_url, opinion(6))
    with pytest.raises(IntegrityError):
        _on(empty_url, opinion(0))

    def read(connection: Connection) -> tuple:
        return (
            connection.execute(text("SELECT count(*) FROM opinions")).scalar_one(),
            connection.execute(text("SELECT blocked_bot, telegram_id FROM citizens")).one(),
            connection.execute(text("SELECT position FROM services")).scalar_one(),
        )

    count, (blocked_bot, telegram_id), position = _on(empty_url, read)
    assert count == 1
    assert not blocked_bot
    assert telegram_id == 5_000_000_000  # beyond 32 bits: BIGINT on PostgreSQL
    assert position == 0


def test_revisions_form_one_line() -> None:
    """Two heads (two branches merged without a merge revision) would make
    ``upgrade head`` ambiguous; head() refuses them."""
    assert migrate.head()
