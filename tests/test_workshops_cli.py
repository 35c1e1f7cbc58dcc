"""``participa workshops create|list``, ``export attendees`` and ``purge`` with workshops."""

from __future__ import annotations

import asyncio

import pytest

from bot.cli import main
from storage.database import create_engine, session_factory
from storage.importer import import_demo
from storage.sql import SqlUnitOfWork
from tests.harness import NOW
from tests.workshop_fixtures import add_citizens


@pytest.fixture
def database(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)  # no .env from the source tree
    assert main(["db", "upgrade"]) == 0
    return url


def run(url: str, work):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        engine = create_engine(url)
        try:
            return await work(session_factory(engine))
        finally:
            await engine.dispose()
    return asyncio.run(go())


def test_create_list_and_export_attendees(database, capsys, tmp_path):  # type: ignore[no-untyped-def]
    run(database, lambda sessions: import_demo(sessions, NOW))
    assert main(["workshops", "create", "--lab", "tu-atencion", "--title", "Taller de prueba",
                 "--starts", "2031-02-03 17:30", "--capacity", "5",
                 "--place", "Calle Mayor 1"]) == 0
    assert "workshop taller-de-prueba-20310203 created" in capsys.readouterr().out
    assert main(["workshops", "create", "--lab", "nope", "--title", "X", "--starts",
                 "2031-02-03 17:30", "--capacity", "5", "--place", "Aquí"]) == 2
    assert "there is no lab 'nope'" in capsys.readouterr().err
    assert main(["workshops", "create", "--lab", "tu-atencion", "--title", "X", "--starts",
                 "tomorrow", "--capacity", "5", "--place", "Aquí"]) == 2
    assert main(["workshops", "list"]) == 0
    listing = capsys.readouterr().out
    assert "taller-de-prueba-20310203\t2031-02-03 17:30\tscheduled\tsigned up 0/5" in listing

    async def sign_up(sessions):  # type: ignore[no-untyped-def]
        [citizen] = await add_citizens(sessions, NOW, 1)
        async with SqlUnitOfWork(sessions) as uow:
            workshop = await uow.workshops.by_slug("taller-de-prueba-20310203")
            await uow.workshops.sign_up(workshop.id, citizen, NOW)
            await uow.commit()

    run(database, sign_up)
    output = tmp_path / "attendees.csv"
    assert main(["export", "attendees", "--workshop", "taller-de-prueba-20310203",
                 "--output", str(output)]) == 0
    content = output.read_bytes().decode("utf-8-sig")
    assert content.splitlines()[0].startswith("name,username,status")
    assert "Citizen 0,c0,confirmed" in content
    assert main(["export", "attendees"]) == 2
    assert main(["export", "attendees", "--workshop", "missing"]) == 1


def test_purge_dry_run_counts_sensitive_answers(database, capsys):  # type: ignore[no-untyped-def]
    assert main(["purge", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "0 sensitive answers of workshops that are over would be erased" in out
