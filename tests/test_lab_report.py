"""The lab report: right numbers on a known fixture, anonymous, formula-safe."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from openpyxl import load_workbook

from storage import models as m
from storage.export import write_sections
from storage.reports import lab_report
from tests.harness import NOW

RATINGS = {"phone": [5, 4, 4], "offices": [1]}
FORMULA = "=HYPERLINK(\"http://evil\") | piped"


async def seed(sessions) -> None:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        lab = m.Lab(slug="lab", title={"es": "Laboratorio", "en": "Lab"}, description={},
                    created_at=NOW)
        session.add(lab)
        await session.flush()
        citizens = [m.Citizen(telegram_id=700 + n, username=f"secret_user_{n}", language="es",
                              first_seen=NOW, last_seen=NOW) for n in range(3)]
        session.add_all(citizens)
        await session.flush()
        for position, (slug, ratings) in enumerate(RATINGS.items()):
            service = m.Service(lab_id=lab.id, slug=slug, title={"es": slug.title()},
                                description={}, position=position)
            session.add(service)
            await session.flush()
            for n, rating in enumerate(ratings):
                session.add(m.Opinion(
                    citizen_id=citizens[n].id, service_id=service.id, rating=rating,
                    comment=FORMULA if (slug, n) == ("offices", 0) else None,
                    media_kind=None, media_file_id="SECRET-FILE-ID", language="es",
                    channel="telegram", created_at=NOW + timedelta(minutes=n)))
        await session.commit()


async def test_numbers_on_a_known_fixture(sessions):  # type: ignore[no-untyped-def]
    await seed(sessions)
    async with sessions() as session:
        summary, per_service, comments, proposals, commitments, tickets = await lab_report(
            session, "lab", "es", NOW)
    values = dict(summary.rows)
    assert (values["participants"], values["opinions"], values["average_rating"]) == (3, 4, 3.5)
    assert [tuple(r) for r in per_service.rows] == [
        ("phone", "Phone", 3, 4.33, 0, 0, 0, 2, 1),
        ("offices", "Offices", 1, 1.0, 1, 0, 0, 0, 0),
    ]
    assert [(r[0], r[1], r[3]) for r in comments.rows] == [("offices", 1, FORMULA)]
    assert proposals.title == "Proposals" and proposals.rows == []
    assert commitments.title == "Commitments" and commitments.rows == []
    assert tickets.title == "Tickets" and dict(tickets.rows)["opened"] == 0
    async with sessions() as session:
        assert await lab_report(session, "missing", "es", NOW) is None


async def test_every_format_is_anonymous_and_formula_safe(sessions):  # type: ignore[no-untyped-def]
    await seed(sessions)
    async with sessions() as session:
        sections = await lab_report(session, "lab", "es", NOW)
    outputs = {fmt: write_sections(sections, fmt) for fmt in ("csv", "xlsx", "md")}
    for fmt, content in outputs.items():
        assert b"secret_user" not in content and b"SECRET-FILE-ID" not in content, fmt

    rows = list(csv.reader(io.StringIO(outputs["csv"].decode("utf-8-sig"))))
    assert rows[0] == ["Summary"] and ["Comments"] in rows
    assert any(cell == "'" + FORMULA for row in rows for cell in row)

    workbook = load_workbook(io.BytesIO(outputs["xlsx"]))
    assert workbook.sheetnames == ["Summary", "Opinions by service", "Comments", "Proposals",
                                   "Commitments", "Tickets"]
    comment_cell = workbook["Comments"]["D2"]
    assert comment_cell.value == "'" + FORMULA and comment_cell.data_type != "f"
    assert workbook["Opinions by service"]["D2"].value == 4.33  # a number, not text

    markdown = outputs["md"].decode()
    assert "## Opinions by service" in markdown
    assert "\\| piped" in markdown  # the user's pipe cannot break the table
