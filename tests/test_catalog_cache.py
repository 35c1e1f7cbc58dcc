"""The catalog kept in memory between events is never older than the database.

Each process keeps labs, phases and services in memory while the catalog's
version (moved by database triggers, read with every event's first
statement) stays the same. A change made by anyone else, as ``participa
import`` in another process would, shows at the very next step.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

from sqlalchemy import delete, event, insert, select, update

from storage import models as m
from tests.harness import NOW, Person, make_engine


async def version(backend) -> int:  # type: ignore[no-untyped-def]
    async with backend.sessions() as session:
        return (await session.execute(select(m.CatalogVersion.version))).scalar_one()


async def change(backend, statement) -> None:  # type: ignore[no-untyped-def]
    """Another process's transaction, committed."""
    async with backend.sessions() as session:
        await session.execute(statement)
        await session.commit()


async def test_a_change_by_another_process_shows_at_the_next_step(sql_backend):  # type: ignore[no-untyped-def]
    await sql_backend.add_lab("tu-atencion", "Tu Atención", ["Phone line 012", "Registry"])
    ana = Person(make_engine(sql_backend))
    await ana.consent()
    await ana.press("Give my opinion")
    assert ana.labels()[:2] == ["Phone line 012", "Registry"]

    await change(sql_backend, update(m.Service).where(m.Service.slug == "registry")
                 .values(title={"es": "Civil registry", "en": "Civil registry"}))
    await ana.press("Back")
    await ana.press("Give my opinion")
    assert ana.labels()[:2] == ["Phone line 012", "Civil registry"]

    await ana.press("Civil registry")
    await ana.press("4")
    await change(sql_backend, update(m.LabPhase).values(closes_at=NOW - timedelta(hours=1)))
    await ana.press("Skip")
    assert "Sorry, that is no longer available." in ana.shown
    await ana.press("Give my opinion")
    assert "No citizen laboratory is taking opinions right now" in ana.shown
    assert await sql_backend.opinions() == []


async def test_the_catalog_is_read_once_while_nothing_changes(sql_backend):  # type: ignore[no-untyped-def]
    await sql_backend.add_lab("tu-atencion", "Tu Atención", ["Phone line 012"])
    ana = Person(make_engine(sql_backend))
    await ana.consent()
    reads: list[str] = []
    database = sql_backend.sessions.kw["bind"].sync_engine

    def seen(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        if "FROM labs" in statement or "FROM services" in statement:
            reads.append(statement)

    event.listen(database, "before_cursor_execute", seen)
    try:
        for n in range(3):
            await ana.press("Another service" if n else "Give my opinion")
            await ana.press("Phone line 012")
            await ana.press("5")
            await ana.press("Skip")
            await ana.press("Send")
        assert len(await sql_backend.opinions()) == 3
        first_journey = len(reads)
        assert first_journey <= 3  # labs, phases, services: one snapshot

        await change(sql_backend, insert(m.Service).values(
            lab_id=select(m.Lab.id).scalar_subquery(), slug="web",
            title={"es": "Web", "en": "Web"}, description={}, position=1))
        await ana.press("Another service")
        assert ana.labels()[:2] == ["Phone line 012", "Web"]
        assert len(reads) == first_journey + 3  # loaded again, once
    finally:
        event.remove(database, "before_cursor_execute", seen)


async def test_every_change_to_the_catalog_moves_its_version(sql_backend):  # type: ignore[no-untyped-def]
    before = await version(sql_backend)
    await sql_backend.add_lab("tu-atencion", "Tu Atención", ["Phone line 012"])
    moves = [await version(sql_backend)]
    for statement in [
            update(m.Lab).values(title={"es": "Otra"}),
            update(m.LabPhase).values(closes_at=NOW),
            update(m.Service).values(position=3),
            delete(m.Service),
            delete(m.LabPhase),
            delete(m.Lab)]:
        await change(sql_backend, statement)
        moves.append(await version(sql_backend))
    assert before < moves[0] and all(a < b for a, b in itertools.pairwise(moves))

    # Changes to anything else leave it alone.
    unchanged = await version(sql_backend)
    await change(sql_backend, insert(m.ProcessedUpdate).values(update_id=1, seen_at=NOW))
    assert await version(sql_backend) == unchanged


async def test_making_the_schema_again_from_the_models_changes_nothing(sql_backend):  # type: ignore[no-untyped-def]
    await sql_backend.add_lab("tu-atencion", "Tu Atención", ["Phone line 012"])
    before = await version(sql_backend)
    async with sql_backend.sessions.kw["bind"].begin() as connection:
        await connection.run_sync(m.Base.metadata.create_all)
    assert await version(sql_backend) == before
    await change(sql_backend, update(m.Service).values(position=2))
    assert await version(sql_backend) == before + 1  # the triggers are still there, once


async def test_a_unit_of_work_outside_an_event_reads_the_catalog_too(sql_backend):  # type: ignore[no-untyped-def]
    await sql_backend.add_lab("tu-atencion", "Tu Atención", ["Phone line 012", "Registry"])
    await sql_backend.add_lab("old", "Old", ["Gone"], closes=NOW - timedelta(days=1))
    async with sql_backend.uow() as uow:  # no start_event: no version read
        [open_lab] = await uow.catalog.labs_open_for("opinions", NOW)
        assert open_lab.slug == "tu-atencion"
        assert (await uow.catalog.lab_by_slug("old")).title["es"] == "Old"
        assert await uow.catalog.lab(open_lab.id) == open_lab
        services = await uow.catalog.services(open_lab.id)
        assert [s.slug for s in services] == ["phone-line-012", "registry"]
        assert await uow.catalog.service(services[1].id) == services[1]
        assert await uow.catalog.service(999_999) is None
