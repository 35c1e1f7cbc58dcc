"""Exports: CSV and XLSX files a spreadsheet opens safely, and the opinions table."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from conversations.text import reference as citizen_reference
from storage import models as m
from storage.export import write_table
from storage.reports import opinions_table, reference

DANGEROUS = ["=SUM(A1)", "+1", "-x", "@x", "\tx", "\rx"]
SAFE_TEXT = ["plain", "a = b", "1+1", "", "O'Brien"]
WHEN = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)  # 10:30:15 in Madrid (CET)


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data[3:].decode("utf-8"), newline="")))


def read_xlsx(data: bytes):  # type: ignore[no-untyped-def]
    return load_workbook(io.BytesIO(data)).active


def test_csv_has_bom_crlf_and_rfc4180_quoting() -> None:
    data = write_table(["name", "comment"], [("Añade", 'says "hi", twice\nnew line')], "csv")

    assert data.startswith(b"\xef\xbb\xbf")
    assert data == ('\ufeffname,comment\r\n'
                    'Añade,"says ""hi"", twice\nnew line"\r\n').encode()
    assert read_csv(data)[1] == ["Añade", 'says "hi", twice\nnew line']


def test_csv_neutralises_formulas_but_not_numbers() -> None:
    rows = [(text,) for text in DANGEROUS + SAFE_TEXT] + [(-5,), (-2.5,), (Decimal("-3.10"),)]
    values = [row[0] for row in read_csv(write_table(["value"], rows, "csv"))[1:]]

    assert values[:len(DANGEROUS)] == ["'" + text for text in DANGEROUS]
    assert values[len(DANGEROUS):len(DANGEROUS) + len(SAFE_TEXT)] == SAFE_TEXT
    assert values[-3:] == ["-5", "-2.5", "-3.10"]


def test_csv_renders_datetimes_in_the_time_zone_and_none_as_empty() -> None:
    rows = [(WHEN, None, date(2026, 3, 1), True)]

    assert read_csv(write_table(["a", "b", "c", "d"], rows, "csv"))[1] == [
        "2026-03-01T10:30:15+01:00", "", "2026-03-01", "true"]
    assert read_csv(write_table(["a"], [(WHEN,)], "csv", tz="UTC"))[1] == [
        "2026-03-01T09:30:15+00:00"]


def test_xlsx_header_is_bold_and_frozen() -> None:
    sheet = read_xlsx(write_table(["reference", "rating"], [("OP-000001", 5)], "xlsx"))

    assert [c.value for c in sheet[1]] == ["reference", "rating"]
    assert all(c.font.bold for c in sheet[1])
    assert not sheet["A2"].font.bold
    assert sheet.freeze_panes == "A2"


def test_xlsx_has_values_never_formulas() -> None:
    rows = [(text, -7) for text in DANGEROUS + SAFE_TEXT]
    sheet = read_xlsx(write_table(["text", "number"], rows, "xlsx"))

    cells = list(sheet.iter_rows(min_row=2))
    assert all(cell.data_type != "f" for row in cells for cell in row)
    texts = [row[0].value for row in cells]
    # XML has no bare carriage return: line ends are written as LF.
    assert texts[:len(DANGEROUS)] == ["'" + text.replace("\r", "\n") for text in DANGEROUS]
    assert texts[len(DANGEROUS):] == [text or None for text in SAFE_TEXT]
    assert all(row[1].value == -7 and row[1].data_type == "n" for row in cells)


def test_xlsx_keeps_numbers_and_local_datetimes() -> None:
    rows = [(WHEN, -1.5, Decimal("2.25"), None, "bell\x07 char")]
    sheet = read_xlsx(write_table(["when", "float", "decimal", "none", "text"], rows, "xlsx"))

    when, number, decimal, empty, text = (c for c in sheet[2])
    assert when.value == datetime(2026, 3, 1, 10, 30, 15)
    assert when.is_date and "yy" in when.number_format
    assert number.value == -1.5 and number.data_type == "n"
    assert decimal.value == 2.25
    assert empty.value is None
    assert text.value == "bell char"  # a control character cannot break the export


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="pdf"):
        write_table(["a"], [], "pdf")  # type: ignore[arg-type]


def test_reference_matches_what_the_citizen_was_told() -> None:
    assert reference("OP", 123) == citizen_reference("OP", 123) == "OP-000123"


async def seed_opinions(sessions) -> None:  # type: ignore[no-untyped-def]
    async with sessions() as session, session.begin():
        citizen = m.Citizen(telegram_id=777000111, username="ana_secret", first_name="Ana",
                            language="es", first_seen=WHEN, last_seen=WHEN)
        lab = m.Lab(slug="tu-atencion", title={"es": "Tu Atención"}, description={},
                    created_at=WHEN)
        other = m.Lab(slug="otro", title={"es": "Otro"}, description={}, created_at=WHEN)
        session.add_all([citizen, lab, other])
        await session.flush()
        phone = m.Service(lab_id=lab.id, slug="telefono-012",
                          title={"es": "Teléfono 012", "en": "012 phone line"}, description={})
        offices = m.Service(lab_id=lab.id, slug="oficinas", title={"es": "Oficinas"},
                            description={})
        elsewhere = m.Service(lab_id=other.id, slug="x", title={"es": "X"}, description={})
        session.add_all([phone, offices, elsewhere])
        await session.flush()
        session.add_all([
            m.Opinion(id=123, citizen_id=citizen.id, service_id=phone.id, rating=2,
                      comment="=HYPERLINK(\"http://evil\")", media_kind=None,
                      language="es", channel="telegram", created_at=WHEN),
            m.Opinion(id=124, citizen_id=None, service_id=offices.id, rating=5, comment=None,
                      media_kind="voice", media_file_id="AwACAgQAAxkBAAIBsecret",
                      language="en", channel="telegram", created_at=WHEN),
            m.Opinion(id=125, citizen_id=citizen.id, service_id=elsewhere.id, rating=3,
                      comment="otro lab", language="es", channel="console", created_at=WHEN),
        ])


async def test_opinions_table_of_one_lab(sessions) -> None:  # type: ignore[no-untyped-def]
    await seed_opinions(sessions)
    async with sessions() as session:
        columns, rows = await opinions_table(session, "tu-atencion", language="en")

    assert columns == ["reference", "created_at", "lab_slug", "service_slug", "service_title",
                       "rating", "comment", "media_kind", "language", "channel"]
    assert rows == [
        ("OP-000123", WHEN, "tu-atencion", "telefono-012", "012 phone line", 2,
         "=HYPERLINK(\"http://evil\")", None, "es", "telegram"),
        # No English title: the Spanish one.
        ("OP-000124", WHEN, "tu-atencion", "oficinas", "Oficinas", 5, None, "voice", "en",
         "telegram"),
    ]


async def test_opinions_table_of_every_lab_is_anonymous_and_exports(sessions) -> None:  # type: ignore[no-untyped-def]
    await seed_opinions(sessions)
    async with sessions() as session:
        columns, rows = await opinions_table(session, None)

    assert [row[0] for row in rows] == ["OP-000123", "OP-000124", "OP-000125"]
    assert rows[0][4] == "Teléfono 012"
    data = write_table(columns, rows, "csv")
    for secret in (b"777000111", b"ana_secret", b"Ana,", b"AwACAgQAAxkBAAIBsecret"):
        assert secret not in data
    lines = read_csv(data)
    assert lines[1][:2] == ["OP-000123", "2026-03-01T10:30:15+01:00"]
    assert lines[1][6] == "'=HYPERLINK(\"http://evil\")"
    sheet = read_xlsx(write_table(columns, rows, "xlsx"))
    assert sheet.max_row == 4
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
