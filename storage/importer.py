"""Import labs and their services from YAML (``participa import FILE... | --demo``).

The file format (``docs/import-example.yaml`` is a complete sample)::

    labs:
      - slug: tu-atencion                 # stable key: a-z, 0-9 and hyphens, <= 64
        title: {es: "Tu Atención", en: "Your Service"}     # "es" is required
        description: {es: "...", en: "..."}                # optional
        phases:                                            # optional
          opinions: {opens: 2026-01-01, closes: 2027-12-31}
          proposals: {opens: 2026-03-01T09:00:00}          # closes is optional
        services:
          - slug: telefono-012            # unique within its lab
            title: {es: "...", en: "..."}
            description: {es: "...", en: "..."}
        workshops:                                         # optional
          - slug: taller-cita-previa      # unique among all workshops
            title: {es: "...", en: "..."}
            description: {es: "...", en: "..."}            # optional
            starts: 2027-03-10T18:00      # local time; or {in_days: 7, at: "18:00"}
            duration_minutes: 120
            place: "Calle Mayor 1, Valladolid"             # or online_url: https://...
            map_url: https://...          # optional (default: an OpenStreetMap search)
            capacity: 30
            reserved: 0                   # optional: seats already given outside the bot
            questions:                    # optional, at most 5
              - kind: choice              # or text
                prompt: {es: "...", en: "..."}
                options: [{es: "...", en: "..."}, {es: "...", en: "..."}]
                sensitive: false          # health or accessibility: kept apart

    proposals:                            # optional; a file may hold only proposals
      - slug: sabados-abierto             # stable key (pr-NNNNNN is kept for citizens')
        lab: tu-atencion                  # in this file or already imported
        service: oficinas-registro        # optional: a service of that lab
        title: {es: "...", en: "..."}     # at most 120 characters
        text: {es: "...", en: "..."}      # at most 2,000 characters
        author_kind: staff                # citizen | staff | workshop (default staff)
        status: published                 # pending | published | under_study |
                                          # accepted | rejected | implemented
        answer: {es: "...", en: "..."}    # optional: the reason or the answer

Proposals can also come as CSV (``.csv``, UTF-8, a header row): columns
``slug, lab, service, author_kind, status`` and one column per language for
each text: ``title_es, title_en, ..., text_es, ..., answer_es, ...``.
Empty cells are left out. Re-importing updates a proposal by its slug
(texts, service, author kind, status, answer; never its ratings). A status
changed by an import tells nobody: ``participa proposals status`` does.

Texts are per language (``{language: text}``); Spanish, the default
language, must always be there. Phases are ``opinions``, ``proposals``,
``ratings``, ``workshops`` and ``results``. A date or datetime without a
time zone is local time in ``timezone`` (Europe/Madrid unless told) and is
stored in UTC; a date alone opens at the start of that day and, for
``closes``, closes at the end of that day.

A workshop's ``starts`` relative to the day of the import (``in_days``) keeps
the demo's workshops upcoming whenever it is loaded. A workshop already there
keeps its date, place and capacity (change those in the bot, with
/manageworkshops, so that the people signed up are told); only its title and
description are updated.

Importing is idempotent by slug: a lab or service already there is updated
(titles, descriptions, phases, position = its order in the file), never
duplicated. A lab's phases are exactly those in the file. A service missing
from a new import is kept (it may have opinions), moved after the services
in the file and listed in the report.
The whole file is validated before anything is written, and written in one
transaction: a mistake leaves the database as it was.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import models as m
from storage.proposals import PRIOR_MEAN

DEMO_FILE = Path(__file__).resolve().parent / "data" / "demo.yaml"
DEFAULT_LANGUAGE = "es"
DEFAULT_TIMEZONE = "Europe/Madrid"
PHASES = ("opinions", "proposals", "ratings", "workshops", "results")
YAML_SUFFIXES = (".yaml", ".yml")
CSV_SUFFIX = ".csv"

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SLUG_MAX = 64
LANGUAGE = re.compile(r"^[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?$")
# A title is a button label and a heading; a description shares one
# Telegram message (4096 characters) with the bot's own text.
TITLE_MAX = 200
DESCRIPTION_MAX = 3000

# What a citizen can write, so a staff proposal fits the same screens.
PROPOSAL_TITLE_MAX = 120
PROPOSAL_TEXT_MAX = 2000
PROPOSAL_ANSWER_MAX = 1000
PROPOSAL_STATUSES = ("pending", "published", "under_study", "accepted", "rejected",
                     "implemented")
AUTHOR_KINDS = ("citizen", "staff", "workshop")
# Citizens' own proposals get pr-NNNNNN (their reference): an import cannot take one.
CITIZEN_SLUG = re.compile(r"^pr-[0-9]+$")

PROPOSAL_KEYS = {"slug", "lab", "service", "title", "text", "author_kind", "status",
                 "answer"}
CSV_FIXED = ("slug", "lab", "service", "author_kind", "status")
CSV_TEXTS = ("title", "text", "answer")

LAB_KEYS = {"slug", "title", "description", "phases", "services", "workshops"}
WORKSHOP_KEYS = {"slug", "title", "description", "starts", "duration_minutes", "place",
                 "map_url", "online_url", "capacity", "reserved", "questions"}
QUESTION_KEYS = {"kind", "prompt", "options", "sensitive"}
PLACE_MAX = 300
URL_MAX = 500
PROMPT_MAX = 200
OPTION_MAX = 60
QUESTIONS_MAX = 5
CAPACITY_MAX = 10_000
SERVICE_KEYS = {"slug", "title", "description"}
PHASE_KEYS = {"opens", "closes"}


class ImportProblem(ValueError):
    """The file cannot be imported; the message names the file, item and field."""

    def __init__(self, path: Path | str, problem: str, *, where: str = "",
                 field: str = "") -> None:
        self.path = str(path)
        self.where = where
        self.field = field
        self.problem = problem
        parts = [self.path]
        if where:
            parts.append(where)
        if field:
            parts.append(field)
        super().__init__(": ".join([*parts, problem]))


@dataclass
class ImportReport:
    labs_created: int = 0
    labs_updated: int = 0
    labs_unchanged: int = 0
    services_created: int = 0
    services_updated: int = 0
    services_unchanged: int = 0
    # "lab/service" slugs in the database but not in the file: kept, not deleted.
    services_not_in_file: list[str] = field(default_factory=list)
    proposals_created: int = 0
    proposals_updated: int = 0
    proposals_unchanged: int = 0
    workshops_created: int = 0
    workshops_updated: int = 0
    workshops_unchanged: int = 0

    def add(self, other: ImportReport) -> None:
        self.proposals_created += other.proposals_created
        self.proposals_updated += other.proposals_updated
        self.proposals_unchanged += other.proposals_unchanged
        self.workshops_created += other.workshops_created
        self.workshops_updated += other.workshops_updated
        self.workshops_unchanged += other.workshops_unchanged
        self.labs_created += other.labs_created
        self.labs_updated += other.labs_updated
        self.labs_unchanged += other.labs_unchanged
        self.services_created += other.services_created
        self.services_updated += other.services_updated
        self.services_unchanged += other.services_unchanged
        self.services_not_in_file.extend(other.services_not_in_file)


# -- what the file says, validated ------------------------------------------


@dataclass(frozen=True)
class _Phase:
    opens_at: datetime
    closes_at: datetime | None


@dataclass(frozen=True)
class _Service:
    slug: str
    title: dict[str, str]
    description: dict[str, str]


@dataclass(frozen=True)
class _Question:
    kind: str
    prompt: dict[str, str]
    options: list[dict[str, str]]
    sensitive: bool


@dataclass(frozen=True)
class _Workshop:
    slug: str
    title: dict[str, str]
    description: dict[str, str]
    starts: datetime | tuple[int, time]  # absolute, or (days after the import, local time)
    minutes: int
    place: str | None
    map_url: str | None
    online_url: str | None
    capacity: int
    reserved: int
    questions: list[_Question]

    def starts_at(self, now: datetime, zone: ZoneInfo) -> datetime:
        if isinstance(self.starts, datetime):
            return self.starts
        days, at = self.starts
        day = now.astimezone(zone).date() + timedelta(days=days)
        return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class _Lab:
    slug: str
    title: dict[str, str]
    description: dict[str, str]
    phases: dict[str, _Phase]
    services: list[_Service]
    workshops: list[_Workshop] = field(default_factory=list)


@dataclass(frozen=True)
class _Proposal:
    slug: str
    lab: str
    service: str | None
    title: dict[str, str]
    text: dict[str, str]
    author_kind: str
    status: str
    answer: dict[str, str]


@dataclass(frozen=True)
class _Document:
    labs: list[_Lab]
    proposals: list[_Proposal]


class _Reader:
    """Turns the parsed YAML into validated values, or raises ImportProblem."""

    def __init__(self, path: Path, zone: ZoneInfo) -> None:
        self.path = path
        self.zone = zone

    def problem(self, message: str, where: str = "", field: str = "") -> ImportProblem:
        return ImportProblem(self.path, message, where=where, field=field)

    def document(self, data: Any) -> _Document:
        if data is None:
            raise self.problem("the file is empty")
        if not isinstance(data, Mapping):
            raise self.problem("expected a mapping with a 'labs' list at the top level")
        unknown = set(data) - {"labs", "proposals"}
        if unknown:
            raise self.problem(f"unknown top-level key(s): {_names(unknown)}")
        items = data.get("labs", [] if "proposals" in data else None)
        if not isinstance(items, list):
            raise self.problem("expected a non-empty list", field="labs")
        labs = [self.lab(item, index) for index, item in enumerate(items, start=1)]
        _no_duplicates([lab.slug for lab in labs], lambda slug: self.problem(
            "appears more than once in the file", where=f"lab '{slug}'", field="slug"))
        _no_duplicates([w.slug for lab in labs for w in lab.workshops], lambda slug: self.problem(
            "appears more than once in the file", where=f"workshop '{slug}'", field="slug"))
        proposal_items = data.get("proposals") or []
        if not isinstance(proposal_items, list):
            raise self.problem("expected a list", field="proposals")
        if not labs and not proposal_items:
            raise self.problem("expected a non-empty list", field="labs")
        return _Document(labs, self.proposals(proposal_items))

    def proposals(self, items: list[Any]) -> list[_Proposal]:
        found = [self.proposal(item, index) for index, item in enumerate(items, start=1)]
        _no_duplicates([p.slug for p in found], lambda slug: self.problem(
            "appears more than once in the file", where=f"proposal '{slug}'", field="slug"))
        return found

    def proposal(self, item: Any, index: int) -> _Proposal:
        where = f"proposal #{index}"
        if not isinstance(item, Mapping):
            raise self.problem("expected a mapping", where=where)
        slug = self.slug(item, where)
        where = f"proposal '{slug}'"
        if CITIZEN_SLUG.match(slug):
            raise self.problem(f"{slug!r} is kept for citizens' proposals (pr-NNNNNN): "
                               "choose another slug", where=where, field="slug")
        self.known_keys(item, PROPOSAL_KEYS, where)
        lab = self.slug({"slug": item.get("lab")}, where, field="lab")
        service = None
        if item.get("service") not in (None, ""):
            service = self.slug({"slug": item.get("service")}, where, field="service")
        author_kind = self.choice(item, "author_kind", AUTHOR_KINDS, "staff", where)
        status = self.choice(item, "status", PROPOSAL_STATUSES, "published", where)
        return _Proposal(
            slug, lab, service,
            self.texts(item, "title", where, PROPOSAL_TITLE_MAX, required=True),
            self.texts(item, "text", where, PROPOSAL_TEXT_MAX, required=True),
            author_kind, status,
            self.texts(item, "answer", where, PROPOSAL_ANSWER_MAX, required=False))

    def choice(self, item: Mapping, name: str, known: tuple[str, ...], default: str,
               where: str) -> str:
        value = item.get(name)
        if value in (None, ""):
            return default
        if value not in known:
            raise self.problem(f"{value!r} is not one of {', '.join(known)}", where=where,
                               field=name)
        return str(value)

    def csv_rows(self, source: str) -> _Document:
        """Proposals from CSV: fixed columns plus title_LANG, text_LANG, answer_LANG."""
        reader = csv.DictReader(io.StringIO(source.removeprefix("\ufeff")))
        header = [name.strip() for name in reader.fieldnames or []]
        if not header:
            raise self.problem("the file is empty")
        missing = [name for name in ("slug", "lab", "title_es", "text_es") if name not in header]
        if missing:
            raise self.problem(f"missing column(s) {', '.join(missing)} (proposals need "
                               f"{', '.join(CSV_FIXED)}, title_LANG, text_LANG, answer_LANG)")
        for name in header:
            base, _, language = name.partition("_")
            if name not in CSV_FIXED and (base not in CSV_TEXTS
                                          or not LANGUAGE.match(language)):
                raise self.problem(f"unknown column {name!r}")
        items = []
        for row in reader:
            cells = {(key or "").strip(): (value or "").strip() for key, value in row.items()}
            if not any(cells.values()):
                continue
            item: dict[str, Any] = {key: cells[key] for key in CSV_FIXED
                                    if cells.get(key)}
            for text in CSV_TEXTS:
                texts = {key.partition("_")[2]: value for key, value in cells.items()
                         if key.partition("_")[0] == text and key not in CSV_FIXED and value}
                if texts:
                    item[text] = texts
            items.append(item)
        if not items:
            raise self.problem("no proposals in the file")
        return _Document([], self.proposals(items))

    def lab(self, item: Any, index: int) -> _Lab:
        where = f"lab #{index}"
        if not isinstance(item, Mapping):
            raise self.problem("expected a mapping", where=where)
        slug = self.slug(item, where)
        where = f"lab '{slug}'"
        self.known_keys(item, LAB_KEYS, where)
        phases_data = item.get("phases") or {}
        if not isinstance(phases_data, Mapping):
            raise self.problem("expected a mapping of phase names", where=where, field="phases")
        phases = {}
        for name, value in phases_data.items():
            if name not in PHASES:
                raise self.problem(f"unknown phase {name!r} (known: {', '.join(PHASES)})",
                                   where=where, field="phases")
            phases[name] = self.phase(value, where, f"phases.{name}")
        services_data = item.get("services") or []
        if not isinstance(services_data, list):
            raise self.problem("expected a list", where=where, field="services")
        services = [self.service(s, where, i) for i, s in enumerate(services_data, start=1)]
        _no_duplicates([s.slug for s in services], lambda dup: self.problem(
            "appears more than once in this lab", where=f"{where}, service '{dup}'",
            field="slug"))
        workshops_data = item.get("workshops") or []
        if not isinstance(workshops_data, list):
            raise self.problem("expected a list", where=where, field="workshops")
        workshops = [self.workshop(w, where, i) for i, w in enumerate(workshops_data, start=1)]
        return _Lab(slug, self.texts(item, "title", where, TITLE_MAX, required=True),
                    self.texts(item, "description", where, DESCRIPTION_MAX, required=False),
                    phases, services, workshops)

    def workshop(self, item: Any, lab_where: str, index: int) -> _Workshop:
        where = f"{lab_where}, workshop #{index}"
        if not isinstance(item, Mapping):
            raise self.problem("expected a mapping", where=where)
        slug = self.slug(item, where)
        where = f"{lab_where}, workshop '{slug}'"
        self.known_keys(item, WORKSHOP_KEYS, where)
        minutes = self.number(item, "duration_minutes", where, 15, 720)
        capacity = self.number(item, "capacity", where, 1, CAPACITY_MAX)
        reserved = self.number(item, "reserved", where, 0, capacity, default=0)
        place = self.line(item, "place", where, PLACE_MAX)
        online_url = self.url(item, "online_url", where)
        if (place is None) == (online_url is None):
            raise self.problem("give either a place or an online_url", where=where)
        map_url = self.url(item, "map_url", where)
        if place is not None and map_url is None:
            map_url = "https://www.openstreetmap.org/search?query=" + quote(place)
        questions_data = item.get("questions") or []
        if not isinstance(questions_data, list) or len(questions_data) > QUESTIONS_MAX:
            raise self.problem(f"expected a list of at most {QUESTIONS_MAX} questions",
                               where=where, field="questions")
        questions = [self.question(q, where, n) for n, q in enumerate(questions_data, start=1)]
        return _Workshop(slug, self.texts(item, "title", where, TITLE_MAX, required=True),
                         self.texts(item, "description", where, DESCRIPTION_MAX,
                                    required=False),
                         self.starts(item.get("starts"), where), minutes,
                         place, map_url if place else None, online_url, capacity, reserved,
                         questions)

    def question(self, item: Any, workshop_where: str, index: int) -> _Question:
        where = f"{workshop_where}, question #{index}"
        if not isinstance(item, Mapping):
            raise self.problem("expected a mapping", where=where)
        self.known_keys(item, QUESTION_KEYS, where)
        kind = item.get("kind")
        if kind not in ("choice", "text"):
            raise self.problem("expected choice or text", where=where, field="kind")
        options_data = item.get("options") or []
        if kind == "text" and options_data:
            raise self.problem("a text question has no options", where=where, field="options")
        if kind == "choice" and (not isinstance(options_data, list)
                                 or not 2 <= len(options_data) <= 8):
            raise self.problem("expected from 2 to 8 options", where=where, field="options")
        options = [self.texts({"option": o}, "option", f"{where}, option #{n}", OPTION_MAX,
                              required=True) for n, o in enumerate(options_data, start=1)]
        sensitive = item.get("sensitive", False)
        if not isinstance(sensitive, bool):
            raise self.problem("expected true or false", where=where, field="sensitive")
        return _Question(kind, self.texts(item, "prompt", where, PROMPT_MAX, required=True),
                         options, sensitive)

    def number(self, item: Mapping, name: str, where: str, low: int, high: int, *,
               default: int | None = None) -> int:
        value = item.get(name, default)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise self.problem(f"expected a whole number from {low} to {high}", where=where,
                               field=name)
        return value

    def line(self, item: Mapping, name: str, where: str, limit: int) -> str | None:
        value = item.get(name)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip() or len(value.strip()) > limit:
            raise self.problem(f"expected a text of at most {limit} characters", where=where,
                               field=name)
        return value.strip()

    def url(self, item: Mapping, name: str, where: str) -> str | None:
        value = self.line(item, name, where, URL_MAX)
        if value is not None and (not value.startswith(("https://", "http://"))
                                  or " " in value):
            raise self.problem("expected a link starting with https://", where=where,
                               field=name)
        return value

    def starts(self, value: Any, where: str) -> datetime | tuple[int, time]:
        if isinstance(value, Mapping):
            if set(value) != {"in_days", "at"}:
                raise self.problem("expected {in_days: N, at: \"HH:MM\"}", where=where,
                                   field="starts")
            days, at = value["in_days"], value["at"]
            try:
                moment = time.fromisoformat(str(at))
            except ValueError:
                raise self.problem(f"{at!r} is not a time (HH:MM)", where=where,
                                   field="starts.at") from None
            if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= 366:
                raise self.problem("expected a number of days from 0 to 366", where=where,
                                   field="starts.in_days")
            return days, moment
        if value is None or (isinstance(value, date) and not isinstance(value, datetime)) or \
                (isinstance(value, str) and len(value.strip()) <= 10):
            raise self.problem("expected a date and time (YYYY-MM-DDTHH:MM)", where=where,
                               field="starts")
        return self.moment(value, where, "starts", end_of_day=False)

    def service(self, item: Any, lab_where: str, index: int) -> _Service:
        where = f"{lab_where}, service #{index}"
        if not isinstance(item, Mapping):
            raise self.problem("expected a mapping", where=where)
        slug = self.slug(item, where)
        where = f"{lab_where}, service '{slug}'"
        self.known_keys(item, SERVICE_KEYS, where)
        return _Service(slug, self.texts(item, "title", where, TITLE_MAX, required=True),
                        self.texts(item, "description", where, DESCRIPTION_MAX,
                                   required=False))

    def known_keys(self, item: Mapping, known: set[str], where: str) -> None:
        unknown = set(item) - known
        if unknown:
            raise self.problem(f"unknown key(s) {_names(unknown)} (known: {_names(known)})",
                               where=where)

    def slug(self, item: Mapping, where: str, field: str = "slug") -> str:
        slug = item.get("slug")
        if slug is None or slug == "":
            raise self.problem("missing (every item needs a stable slug)", where=where,
                               field=field)
        if not isinstance(slug, str):
            raise self.problem(f"{slug!r} is not text (quote it)", where=where, field=field)
        if len(slug) > SLUG_MAX or not SLUG.match(slug):
            raise self.problem(
                f"{slug!r} is not a slug (lower-case letters, digits and single hyphens, "
                f"at most {SLUG_MAX} characters)", where=where, field=field)
        return slug

    def texts(self, item: Mapping, name: str, where: str, limit: int, *,
              required: bool) -> dict[str, str]:
        value = item.get(name)
        if value is None and not required:
            return {}
        if not isinstance(value, Mapping):
            raise self.problem(
                f"expected texts per language, like {{{DEFAULT_LANGUAGE}: \"...\"}}",
                where=where, field=name)
        texts: dict[str, str] = {}
        for language, text in value.items():
            if not isinstance(language, str) or not LANGUAGE.match(language):
                raise self.problem(f"{language!r} is not a language code", where=where,
                                   field=name)
            if not isinstance(text, str) or not text.strip():
                raise self.problem("expected a non-empty text", where=where,
                                   field=f"{name}.{language}")
            if len(text.strip()) > limit:
                raise self.problem(f"longer than {limit} characters", where=where,
                                   field=f"{name}.{language}")
            texts[language] = text.strip()
        if DEFAULT_LANGUAGE not in texts:
            raise self.problem(f"missing the default language ({DEFAULT_LANGUAGE!r})",
                               where=where, field=name)
        return texts

    def phase(self, value: Any, where: str, name: str) -> _Phase:
        if not isinstance(value, Mapping):
            raise self.problem("expected {opens: DATE, closes: DATE}", where=where, field=name)
        unknown = set(value) - PHASE_KEYS
        if unknown:
            raise self.problem(f"unknown key(s) {_names(unknown)} (known: opens, closes)",
                               where=where, field=name)
        if value.get("opens") is None:
            raise self.problem("missing", where=where, field=f"{name}.opens")
        opens = self.moment(value["opens"], where, f"{name}.opens", end_of_day=False)
        closes = None
        if value.get("closes") is not None:
            closes = self.moment(value["closes"], where, f"{name}.closes", end_of_day=True)
            if closes <= opens:
                raise self.problem("must be after opens", where=where, field=f"{name}.closes")
        return _Phase(opens, closes)

    def moment(self, value: Any, where: str, name: str, *, end_of_day: bool) -> datetime:
        if isinstance(value, str):
            try:
                value = (datetime.fromisoformat(value) if len(value.strip()) > 10
                         else date.fromisoformat(value.strip()))
            except ValueError:
                raise self.problem(f"{value!r} is not a date (YYYY-MM-DD) or datetime "
                                   "(YYYY-MM-DDTHH:MM[:SS][+HH:MM])",
                                   where=where, field=name) from None
        if isinstance(value, datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=self.zone)
        elif isinstance(value, date):
            day = value + timedelta(days=1) if end_of_day else value
            moment = datetime.combine(day, time(0), tzinfo=self.zone)
        else:
            raise self.problem("expected a date or datetime", where=where, field=name)
        return moment.astimezone(UTC)


def _names(keys: set) -> str:
    return ", ".join(sorted(map(str, keys)))


def _no_duplicates(slugs: list[str], problem: Any) -> None:
    seen: set[str] = set()
    for slug in slugs:
        if slug in seen:
            raise problem(slug)
        seen.add(slug)


def read_file(path: Path, timezone: str = DEFAULT_TIMEZONE) -> _Document:
    """Parse and validate ``path`` without touching the database."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (*YAML_SUFFIXES, CSV_SUFFIX):
        raise ImportProblem(path, f"unsupported file type {path.suffix or '(none)'!r}: "
                                  "only YAML (.yaml, .yml) or, for proposals, CSV (.csv) "
                                  "can be imported")
    try:
        source = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ImportProblem(path, "no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ImportProblem(path, f"cannot be read as UTF-8 text ({error})") from None
    if suffix == CSV_SUFFIX:
        try:
            return _Reader(path, ZoneInfo(timezone)).csv_rows(source)
        except csv.Error as error:
            raise ImportProblem(path, f"not valid CSV ({error})") from None
    try:
        data = yaml.safe_load(source)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        reason = getattr(error, "problem", None) or str(error)
        raise ImportProblem(path, f"{at}not valid YAML ({reason})") from None
    return _Reader(path, ZoneInfo(timezone)).document(data)


# -- writing -----------------------------------------------------------------


async def import_file(sessions: async_sessionmaker, path: Path, now: datetime, *,
                      timezone: str = DEFAULT_TIMEZONE) -> ImportReport:
    """Create or update the labs and services in ``path``, in one transaction."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    document = read_file(path, timezone)
    report = ImportReport()
    async with sessions() as session, session.begin():
        for lab in document.labs:
            await _save_lab(session, lab, now, ZoneInfo(timezone), report)
        for proposal in document.proposals:
            await _save_proposal(session, path, proposal, now, report)
    return report


async def import_demo(sessions: async_sessionmaker, now: datetime) -> ImportReport:
    """The demo lab "Tu Atención", open for opinions from 2026 to the end of 2030."""
    return await import_file(sessions, DEMO_FILE, now)


async def _save_lab(session: AsyncSession, lab: _Lab, now: datetime, zone: ZoneInfo,
                    report: ImportReport) -> None:
    row = (await session.execute(
        select(m.Lab).where(m.Lab.slug == lab.slug))).scalar_one_or_none()
    created = row is None
    if row is None:
        row = m.Lab(slug=lab.slug, title=lab.title, description=lab.description,
                    created_at=now)
        session.add(row)
        await session.flush()
        changed = False
    else:
        changed = (row.title, row.description or {}) != (lab.title, lab.description)
        if changed:
            row.title, row.description = lab.title, lab.description
    changed = await _save_phases(session, row.id, lab.phases) or changed
    await _save_services(session, row.id, lab, report)
    await _save_workshops(session, row.id, lab, now, zone, report)
    if created:
        report.labs_created += 1
    elif changed:
        report.labs_updated += 1
    else:
        report.labs_unchanged += 1
    await session.flush()


async def _save_phases(session: AsyncSession, lab_id: int, phases: dict[str, _Phase]) -> bool:
    rows = {p.phase: p for p in (await session.execute(
        select(m.LabPhase).where(m.LabPhase.lab_id == lab_id))).scalars()}
    changed = False
    for name, row in rows.items():
        if name not in phases:
            await session.delete(row)
            changed = True
    for name, phase in phases.items():
        row = rows.get(name)
        if row is None:
            session.add(m.LabPhase(lab_id=lab_id, phase=name, opens_at=phase.opens_at,
                                   closes_at=phase.closes_at))
            changed = True
        elif (row.opens_at, row.closes_at) != (phase.opens_at, phase.closes_at):
            row.opens_at, row.closes_at = phase.opens_at, phase.closes_at
            changed = True
    return changed


async def _save_services(session: AsyncSession, lab_id: int, lab: _Lab,
                         report: ImportReport) -> None:
    rows = {s.slug: s for s in (await session.execute(
        select(m.Service).where(m.Service.lab_id == lab_id))).scalars()}
    for position, service in enumerate(lab.services):
        row = rows.pop(service.slug, None)
        if row is None:
            session.add(m.Service(lab_id=lab_id, slug=service.slug, title=service.title,
                                  description=service.description, position=position))
            report.services_created += 1
        elif (row.title, row.description or {}, row.position) != (
                service.title, service.description, position):
            row.title, row.description, row.position = (service.title, service.description,
                                                        position)
            report.services_updated += 1
        else:
            report.services_unchanged += 1
    # Kept (they may have opinions) but listed after the services in the file.
    left_out = sorted(rows.values(), key=lambda row: (row.position, row.id))
    for position, row in enumerate(left_out, start=len(lab.services)):
        row.position = position
    report.services_not_in_file.extend(f"{lab.slug}/{row.slug}" for row in left_out)


async def _save_proposal(session: AsyncSession, path: Path, proposal: _Proposal,
                         now: datetime, report: ImportReport) -> None:
    where = f"proposal '{proposal.slug}'"
    lab_id = (await session.execute(
        select(m.Lab.id).where(m.Lab.slug == proposal.lab))).scalar_one_or_none()
    if lab_id is None:
        raise ImportProblem(path, f"no lab {proposal.lab!r} in the file or the database",
                            where=where, field="lab")
    service_id = None
    if proposal.service is not None:
        service_id = (await session.execute(select(m.Service.id).where(
            m.Service.lab_id == lab_id, m.Service.slug == proposal.service))
        ).scalar_one_or_none()
        if service_id is None:
            raise ImportProblem(path, f"lab {proposal.lab!r} has no service "
                                      f"{proposal.service!r}", where=where, field="service")
    row = (await session.execute(
        select(m.Proposal).where(m.Proposal.slug == proposal.slug))).scalar_one_or_none()
    values = {"lab_id": lab_id, "service_id": service_id, "title": proposal.title,
              "description": proposal.text, "author_kind": proposal.author_kind,
              "status": proposal.status, "answer": proposal.answer}
    if row is None:
        session.add(m.Proposal(
            slug=proposal.slug, citizen_id=None, language=DEFAULT_LANGUAGE, rated_1=0,
            rated_2=0, rated_3=0, rated_4=0, rated_5=0, ratings_count=0, ratings_sum=0,
            rank_score=PRIOR_MEAN, created_at=now, updated_at=now, status_changed_at=now,
            **values))
        report.proposals_created += 1
    elif {key: getattr(row, key) for key in values} != values:
        if row.status != proposal.status:
            row.status_changed_at = now
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = now
        report.proposals_updated += 1
    else:
        report.proposals_unchanged += 1
    await session.flush()


async def _save_workshops(session: AsyncSession, lab_id: int, lab: _Lab, now: datetime,
                          zone: ZoneInfo, report: ImportReport) -> None:
    """New workshops are created; existing ones only get their texts updated."""
    for workshop in lab.workshops:
        row = (await session.execute(
            select(m.Workshop).where(m.Workshop.slug == workshop.slug))).scalar_one_or_none()
        if row is not None:
            if (row.title, row.description or {}) != (workshop.title, workshop.description):
                row.title, row.description, row.updated_at = (workshop.title,
                                                              workshop.description, now)
                report.workshops_updated += 1
            else:
                report.workshops_unchanged += 1
            continue
        starts = workshop.starts_at(now, zone)
        row = m.Workshop(slug=workshop.slug, lab_id=lab_id, title=workshop.title,
                         description=workshop.description, starts_at=starts,
                         ends_at=starts + timedelta(minutes=workshop.minutes),
                         place=workshop.place, map_url=workshop.map_url,
                         online_url=workshop.online_url, capacity=workshop.capacity,
                         taken=workshop.reserved, status="scheduled", revision=0, created_at=now,
                         updated_at=now)
        session.add(row)
        await session.flush()
        for position, question in enumerate(workshop.questions, start=1):
            session.add(m.WorkshopQuestion(
                workshop_id=row.id, position=position, kind=question.kind,
                prompt=question.prompt, options=question.options or None,
                sensitive=question.sensitive))
        report.workshops_created += 1
