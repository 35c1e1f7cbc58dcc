"""The one table writer behind every export (``participa export``, reports).

Whatever the table, the same rules hold:

* **CSV**: UTF-8 with a byte order mark (so spreadsheet programs detect the
  encoding), RFC 4180 quoting, CRLF line ends.
* **XLSX**: a bold, frozen header row; numbers stored as numbers and
  datetimes as spreadsheet datetimes.
* **Text is data, never a formula.** Citizens write the comments: a text
  cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
  would be run as a formula when the file is opened (CSV/formula
  injection), so it gets a leading apostrophe. Numbers are not text and keep
  their sign.
* Datetimes are shown in one time zone (``tz``, Europe/Madrid by default):
  ISO 8601 with the offset in CSV, naive local time in XLSX (spreadsheets
  have no time zones). Naive datetimes are taken as UTC, as storage keeps them.
* ``None`` is an empty cell.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

Format = Literal["csv", "xlsx"]
FORMATS: tuple[Format, ...] = ("csv", "xlsx")

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
XLSX_DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
XLSX_DATE_FORMAT = "yyyy-mm-dd"
XLSX_MAX_CELL_CHARS = 32_767
XLSX_SHEET_TITLE_MAX = 31

Number = int | float | Decimal


def neutralise(text: str) -> str:
    """Make a text cell that a spreadsheet would run as a formula plain text."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _local(value: datetime, zone: ZoneInfo) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(zone).replace(microsecond=0)


def _as_text(value: object) -> str:
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _csv_cell(value: object, zone: ZoneInfo) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if _is_number(value):
        return str(value)
    if isinstance(value, datetime):
        return _local(value, zone).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return neutralise(_as_text(value))


def _xlsx_value(value: object, zone: ZoneInfo) -> object:
    if value is None or isinstance(value, bool) or _is_number(value):
        return value
    if isinstance(value, datetime):
        return _local(value, zone).replace(tzinfo=None)
    if isinstance(value, date):
        return value
    # openpyxl refuses control characters the XML cannot carry; a stray one
    # in a comment must not break the whole export. XML reads a bare CR back
    # as LF, so line ends are written as LF, after the formula check.
    text = neutralise(ILLEGAL_CHARACTERS_RE.sub("", _as_text(value)))
    return text.replace("\r\n", "\n").replace("\r", "\n")[:XLSX_MAX_CELL_CHARS]


def write_csv(columns: Sequence[str], rows: Iterable[Sequence[object]],
              tz: str = "Europe/Madrid") -> bytes:
    zone = ZoneInfo(tz)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, dialect="excel", lineterminator="\r\n",
                        quoting=csv.QUOTE_MINIMAL)
    writer.writerow([_csv_cell(column, zone) for column in columns])
    for row in rows:
        writer.writerow([_csv_cell(value, zone) for value in row])
    return buffer.getvalue().encode("utf-8-sig")


def write_xlsx(columns: Sequence[str], rows: Iterable[Sequence[object]],
               tz: str = "Europe/Madrid", *, sheet: str = "Export") -> bytes:
    zone = ZoneInfo(tz)
    # Write-only mode streams rows: an export of every opinion stays small in memory.
    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(title=sheet[:XLSX_SHEET_TITLE_MAX])
    worksheet.freeze_panes = "A2"
    for index, column in enumerate(columns, start=1):
        worksheet.column_dimensions[get_column_letter(index)].width = max(12, len(column) + 2)
    bold = Font(bold=True)
    header = []
    for column in columns:
        cell = WriteOnlyCell(worksheet, value=_xlsx_value(column, zone))
        cell.font = bold
        header.append(cell)
    worksheet.append(header)
    for row in rows:
        worksheet.append([_xlsx_cell(worksheet, value, zone) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _xlsx_cell(worksheet, value: object, zone: ZoneInfo) -> object:  # type: ignore[no-untyped-def]
    converted = _xlsx_value(value, zone)
    if isinstance(converted, date):
        cell = WriteOnlyCell(worksheet, value=converted)
        cell.number_format = (XLSX_DATETIME_FORMAT if isinstance(converted, datetime)
                              else XLSX_DATE_FORMAT)
        return cell
    return converted


def write_table(columns: list[str], rows: Iterable[Sequence[object]], fmt: Format,
                tz: str = "Europe/Madrid") -> bytes:
    """The table as the bytes of a CSV or XLSX file."""
    if fmt == "csv":
        return write_csv(columns, rows, tz)
    if fmt == "xlsx":
        return write_xlsx(columns, rows, tz)
    raise ValueError(f"unknown export format {fmt!r} (known: {', '.join(FORMATS)})")


@dataclass(frozen=True, slots=True)
class Section:
    """One table of a report: a title, its columns and its rows."""

    title: str
    columns: list[str]
    rows: list[Sequence[object]]


ReportFormat = Literal["csv", "xlsx", "md"]


def write_sections(sections: Sequence[Section], fmt: ReportFormat,
                   tz: str = "Europe/Madrid") -> bytes:
    """A report of several tables: CSV sections one after another (a title row,
    the header, the rows, a blank line), one XLSX sheet per section, or
    Markdown tables. The same cell rules as :func:`write_table` apply."""
    zone = ZoneInfo(tz)
    if fmt == "csv":
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, dialect="excel", lineterminator="\r\n")
        for index, section in enumerate(sections):
            if index:
                writer.writerow([])
            writer.writerow([_csv_cell(section.title, zone)])
            writer.writerow([_csv_cell(column, zone) for column in section.columns])
            writer.writerows([_csv_cell(value, zone) for value in row] for row in section.rows)
        return buffer.getvalue().encode("utf-8-sig")
    if fmt == "xlsx":
        workbook = Workbook(write_only=True)
        bold = Font(bold=True)
        for section in sections:
            sheet = workbook.create_sheet(title=_sheet_title(section.title))
            sheet.freeze_panes = "A2"
            header = []
            for column in section.columns:
                cell = WriteOnlyCell(sheet, value=_xlsx_value(column, zone))
                cell.font = bold
                header.append(cell)
            sheet.append(header)
            for row in section.rows:
                sheet.append([_xlsx_cell(sheet, value, zone) for value in row])
        buffer = io.BytesIO()
        workbook.save(buffer)
        return buffer.getvalue()
    if fmt == "md":
        return "\n".join(_markdown(section, zone) for section in sections).encode()
    raise ValueError(f"unknown report format {fmt!r} (known: csv, xlsx, md)")


def _sheet_title(title: str) -> str:
    # Excel refuses these characters in sheet names.
    return "".join("-" if ch in "[]:*?/\\" else ch for ch in title)[:XLSX_SHEET_TITLE_MAX]


def _markdown(section: Section, zone: ZoneInfo) -> str:
    def cell(value: object) -> str:
        text = _csv_cell(value, zone)
        return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace(
            "\n", " ")

    lines = [f"## {cell(section.title)}", "",
             "| " + " | ".join(cell(c) for c in section.columns) + " |",
             "|" + "|".join(" --- " for _ in section.columns) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in section.rows]
    return "\n".join(lines) + "\n"
