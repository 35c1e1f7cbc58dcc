"""The staff's side of proposals on the command line: import --demo, status changes
that queue notifications, export proposals|ratings, the report's section."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from bot.cli import main
from storage import migrate
from storage import models as m
from storage.database import create_engine, session_factory
from storage.sql import SqlUnitOfWork
from tests.harness import NOW


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DEFAULT_LOCALE", "es")
    migrate.upgrade(url, "head")
    assert main(["import", "--demo"]) == 0
    return url


def run(url: str, work):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        db = create_engine(url)
        try:
            return await work(session_factory(db))
        finally:
            await db.dispose()
    return asyncio.run(go())


async def a_rater(sessions) -> int:  # type: ignore[no-untyped-def]
    """A consented citizen (English) who rated abrir-sabados 5."""
    async with SqlUnitOfWork(sessions) as uow:
        citizen = await uow.citizens.register(4242, "rater", "Rita", "en", NOW)
        await uow.citizens.give_consent(citizen.id, "privacy", "1", NOW)
        proposal = await uow.proposals.by_slug("abrir-sabados")
        assert proposal is not None
        await uow.proposals.rate(proposal.id, citizen.id, 5, NOW)
        await uow.commit()
        return citizen.id


async def outbox(sessions) -> list[m.OutboxMessage]:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        return list((await session.execute(select(m.OutboxMessage))).scalars())


def test_status_change_queues_one_message_per_participant(database, capsys):  # type: ignore[no-untyped-def]
    run(database, a_rater)
    assert main(["proposals", "status", "abrir-sabados", "rejected", "--reason",
                 "No hay personal suficiente"]) == 0
    assert "published -> rejected; 1 notification(s) queued" in capsys.readouterr().out
    [row] = run(database, outbox)
    assert row.chat_id == 4242 and row.status == "pending"
    assert "New status: <b>Not accepted</b>" in row.body
    assert "Reason: No hay personal suficiente" in row.body
    assert main(["proposals", "status", "abrir-sabados", "rejected"]) == 0  # no change
    assert len(run(database, outbox)) == 1
    assert main(["proposals", "status", "no-such-thing", "accepted"]) == 1
    assert "there is no proposal 'no-such-thing'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["proposals", "status", "abrir-sabados", "maybe"])


async def a_rater_without_preferences(sessions) -> None:  # type: ignore[no-untyped-def]
    """A second rater whose preferences row is missing: the default (updates on) holds."""
    async with SqlUnitOfWork(sessions) as uow:
        citizen = await uow.citizens.register(4343, "rater2", "Rafa", "gl", NOW)
        await uow.citizens.give_consent(citizen.id, "privacy", "1", NOW)
        proposal = await uow.proposals.by_slug("abrir-sabados")
        assert proposal is not None
        await uow.proposals.rate(proposal.id, citizen.id, 2, NOW)
        await uow.commit()
    async with sessions() as session:
        await session.execute(delete(m.NotificationPreferences).where(
            m.NotificationPreferences.citizen_id == citizen.id))
        await session.commit()


def test_no_preferences_row_means_updates_on(database, capsys):  # type: ignore[no-untyped-def]
    run(database, a_rater_without_preferences)
    assert main(["proposals", "status", "abrir-sabados", "under_study"]) == 0
    [row] = run(database, outbox)
    assert row.chat_id == 4343 and "Novo estado: <b>En estudo</b>" in row.body


def test_export_proposals_and_ratings(database, tmp_path, capsys):  # type: ignore[no-untyped-def]
    run(database, a_rater)
    target = tmp_path / "proposals.csv"
    assert main(["export", "proposals", "--lab", "tu-atencion", "--output", str(target)]) == 0
    table = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    assert len(table) == 9
    row = next(r for r in table if r["slug"] == "abrir-sabados")
    assert (row["ratings"], row["average"], row["rated_5"], row["status"]) == \
        ("1", "5.0", "1", "published")
    assert row["reference"].startswith("PR-")
    ratings = tmp_path / "ratings.xlsx"
    assert main(["export", "ratings", "--format", "xlsx", "--output", str(ratings)]) == 0
    from openpyxl import load_workbook
    sheet = load_workbook(ratings).active
    assert [c.value for c in sheet[1]] == ["proposal_reference", "proposal_slug", "lab_slug",
                                           "score", "rated_at"]
    assert [c.value for c in sheet[2]][1:4] == ["abrir-sabados", "tu-atencion", 5]
    assert "4242" not in target.read_text(encoding="utf-8-sig")  # anonymous


def test_report_has_the_proposals_with_status_and_answer(database, capsys):  # type: ignore[no-untyped-def]
    assert main(["report", "tu-atencion", "--format", "md"]) == 0
    report = capsys.readouterr().out
    assert "Proposals" in report
    assert "Recordatorio de la cita previa" in report and "accepted" in report
    assert "Nos comprometemos a ponerlo en marcha" in report
    assert "Un chat con una persona" not in report  # pending: not in the report
