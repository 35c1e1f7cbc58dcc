"""Importing labs and services from YAML: the demo, idempotence, updates, errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import func, select

from storage import models as m
from storage.importer import (
    DEMO_FILE,
    DESCRIPTION_MAX,
    TITLE_MAX,
    ImportProblem,
    import_demo,
    import_file,
)
from storage.sql import SqlUnitOfWork

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
MADRID = ZoneInfo("Europe/Madrid")
EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "import-example.yaml"
# The bot speaks these; the demo must read well in all of them.
DEMO_LANGUAGES = {"es", "en", "ca", "gl", "eu", "pt"}
# A translation equal to the Spanish is usually a forgotten copy. The only
# allowed ones are texts both languages genuinely spell alike.
SAME_AS_SPANISH = {("gl", "Cita previa")}

SMALL = """
labs:
  - slug: lab-a
    title: {es: "Laboratorio A", en: "Lab A"}
    description: {es: "Descripción A"}
    phases:
      opinions: {opens: 2026-01-01, closes: 2026-12-31}
    services:
      - slug: uno
        title: {es: "Uno", en: "One"}
      - slug: dos
        title: {es: "Dos", en: "Two"}
        description: {es: "El segundo", en: "The second"}
"""


def write(folder: Path, text: str, name: str = "labs.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


async def counts(sessions) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        return (
            await session.scalar(select(func.count()).select_from(m.Lab)),
            await session.scalar(select(func.count()).select_from(m.Service)),
            await session.scalar(select(func.count()).select_from(m.LabPhase)),
        )


async def open_labs(sessions, phase: str, when: datetime) -> list[str]:  # type: ignore[no-untyped-def]
    async with SqlUnitOfWork(sessions) as uow:
        return [lab.slug for lab in await uow.catalog.labs_open_for(phase, when)]


async def services_of(sessions, lab_slug: str) -> list:  # type: ignore[no-untyped-def]
    async with SqlUnitOfWork(sessions) as uow:
        lab = await uow.catalog.lab_by_slug(lab_slug)
        assert lab is not None
        return await uow.catalog.services(lab.id)


async def test_demo_loads_one_lab_with_eight_services(sessions) -> None:  # type: ignore[no-untyped-def]
    report = await import_demo(sessions, NOW)

    assert (report.labs_created, report.services_created) == (1, 8)
    assert report.workshops_created == 2
    assert await counts(sessions) == (1, 8, 4)
    async with SqlUnitOfWork(sessions) as uow:
        lab = await uow.catalog.lab_by_slug("tu-atencion")
    assert lab is not None
    assert lab.title["es"].startswith("Tu Atención")
    services = await services_of(sessions, "tu-atencion")
    assert services[0].slug == "telefono-012"
    for item in [lab, *services]:
        assert set(item.title) == DEMO_LANGUAGES, item.slug
        assert set(item.description) == DEMO_LANGUAGES, item.slug


async def test_demo_has_proposals_in_every_status(sessions) -> None:  # type: ignore[no-untyped-def]
    report = await import_demo(sessions, NOW)
    assert report.proposals_created >= 8
    async with sessions() as session:
        proposals = (await session.execute(select(m.Proposal))).scalars().all()
    assert {p.status for p in proposals} == set(m.PROPOSAL_STATUSES)
    assert {p.author_kind for p in proposals} == set(m.AUTHOR_KINDS)
    assert all(p.lab_id == proposals[0].lab_id for p in proposals)


def test_demo_proposals_are_translated_into_every_language() -> None:
    proposals = yaml.safe_load(DEMO_FILE.read_text(encoding="utf-8"))["proposals"]
    assert len(proposals) >= 8
    for item in proposals:
        for name, limit in (("title", 120), ("text", 2000), ("answer", 1000)):
            if name == "answer" and name not in item:
                continue
            texts = item[name]
            where = f"{item['slug']}.{name}"
            assert set(texts) == DEMO_LANGUAGES, where
            for language, text in texts.items():
                assert isinstance(text, str) and text.strip(), f"{where}.{language}"
                assert len(text.strip()) <= limit, f"{where}.{language}"
            for language in DEMO_LANGUAGES - {"es", "en"}:
                assert texts[language] != texts["es"], f"{where}.{language}"


PROPOSALS_YAML = """
proposals:
  - slug: mas-horario
    lab: lab-a
    service: uno
    title: {es: "Más horario", en: "Longer hours"}
    text: {es: "Abrir por la tarde", en: "Open in the afternoon"}
    author_kind: workshop
    status: under_study
"""

PROPOSALS_CSV = (
    "slug,lab,service,author_kind,status,title_es,title_en,text_es,text_en,answer_es\r\n"
    "mas-horario,lab-a,dos,staff,accepted,Más horario,Longer hours,Abrir,Open,Hecho\r\n"
    "otra,lab-a,,,,\"Otra, con coma\",,Texto,,\r\n"
)


async def proposals_in(sessions) -> list:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        return (await session.execute(select(m.Proposal).order_by(m.Proposal.id))
                ).scalars().all()


async def test_proposals_import_from_yaml_and_csv_and_update_by_slug(sessions, tmp_path) -> None:  # type: ignore[no-untyped-def]
    await import_file(sessions, write(tmp_path, SMALL), NOW)
    report = await import_file(sessions, write(tmp_path, PROPOSALS_YAML, "p.yaml"), NOW)
    assert report.proposals_created == 1
    [first] = await proposals_in(sessions)
    assert (first.status, first.author_kind, first.title["en"]) == \
        ("under_study", "workshop", "Longer hours")
    report = await import_file(sessions, write(tmp_path, PROPOSALS_CSV, "p.csv"), NOW)
    assert (report.proposals_created, report.proposals_updated) == (1, 1)
    updated, other = await proposals_in(sessions)
    assert updated.id == first.id and updated.status == "accepted"
    assert updated.answer == {"es": "Hecho"} and updated.author_kind == "staff"
    assert (other.title, other.status, other.author_kind, other.service_id) == \
        ({"es": "Otra, con coma"}, "published", "staff", None)
    again = await import_file(sessions, write(tmp_path, PROPOSALS_CSV, "p.csv"), NOW)
    assert (again.proposals_created, again.proposals_unchanged) == (0, 2)


@pytest.mark.parametrize(("text", "fragments"), [
    pytest.param(PROPOSALS_YAML.replace("lab: lab-a", "lab: nowhere"),
                 ["proposal 'mas-horario'", "lab", "'nowhere'"], id="unknown-lab"),
    pytest.param(PROPOSALS_YAML.replace("service: uno", "service: tres"),
                 ["proposal 'mas-horario'", "service", "'tres'"], id="unknown-service"),
    pytest.param(PROPOSALS_YAML.replace("status: under_study", "status: maybe"),
                 ["proposal 'mas-horario'", "status", "'maybe'"], id="unknown-status"),
    pytest.param(PROPOSALS_YAML.replace("slug: mas-horario", "slug: pr-000001"),
                 ["proposal 'pr-000001'", "kept for citizens"], id="citizen-slug"),
    pytest.param(PROPOSALS_YAML.replace('"Más horario"', '"' + "x" * 121 + '"'),
                 ["proposal 'mas-horario'", "title.es", "longer than 120"], id="long-title"),
])
async def test_invalid_proposals_are_rejected_and_nothing_is_written(  # type: ignore[no-untyped-def]
        sessions, tmp_path, text, fragments) -> None:
    await import_file(sessions, write(tmp_path, SMALL), NOW)
    with pytest.raises(ImportProblem) as raised:
        await import_file(sessions, write(tmp_path, text, "p.yaml"), NOW)
    for fragment in fragments:
        assert fragment in str(raised.value), (fragment, str(raised.value))
    assert await proposals_in(sessions) == []


def test_demo_texts_are_translated_into_every_language() -> None:
    lab = yaml.safe_load(DEMO_FILE.read_text(encoding="utf-8"))["labs"][0]
    items = [lab, *lab["services"], *lab["workshops"]]
    assert len(items) == 11
    for item in items:
        for name, limit in (("title", TITLE_MAX), ("description", DESCRIPTION_MAX)):
            texts = item[name]
            where = f"{item['slug']}.{name}"
            assert set(texts) == DEMO_LANGUAGES, where
            for language, text in texts.items():
                assert isinstance(text, str), f"{where}.{language}"
                assert text.strip(), f"{where}.{language}"
                assert len(text.strip()) <= limit, f"{where}.{language}"
            for language in DEMO_LANGUAGES - {"es", "en"}:
                if (language, texts[language]) not in SAME_AS_SPANISH:
                    assert texts[language] != texts["es"], f"{where}.{language}"


@pytest.mark.parametrize("when", [
    datetime(2026, 1, 1, 0, 0, tzinfo=MADRID),
    datetime(2028, 6, 15, 12, 0, tzinfo=MADRID),
    datetime(2030, 12, 31, 23, 59, tzinfo=MADRID),
])
async def test_demo_takes_opinions_until_the_end_of_2030(sessions, when) -> None:  # type: ignore[no-untyped-def]
    await import_demo(sessions, NOW)
    assert await open_labs(sessions, "opinions", when) == ["tu-atencion"]


async def test_demo_is_closed_outside_its_dates(sessions) -> None:  # type: ignore[no-untyped-def]
    await import_demo(sessions, NOW)
    assert await open_labs(sessions, "opinions", datetime(2025, 12, 31, 23, 59,
                                                          tzinfo=MADRID)) == []
    assert await open_labs(sessions, "opinions", datetime(2031, 1, 1, tzinfo=MADRID)) == []


async def test_importing_twice_changes_nothing(sessions) -> None:  # type: ignore[no-untyped-def]
    await import_demo(sessions, NOW)
    before = await counts(sessions)

    again = await import_demo(sessions, NOW)

    assert (again.labs_created, again.labs_updated, again.labs_unchanged) == (0, 0, 1)
    assert (again.services_created, again.services_updated, again.services_unchanged) == (0, 0, 8)
    assert again.services_not_in_file == []
    assert (again.proposals_created, again.proposals_updated, again.proposals_unchanged) == \
        (0, 0, 9)
    assert (again.workshops_created, again.workshops_unchanged) == (0, 2)
    assert await counts(sessions) == before


async def test_demo_workshops_are_upcoming_one_nearly_full_in_every_language(sessions) -> None:  # type: ignore[no-untyped-def]
    await import_demo(sessions, NOW)
    async with SqlUnitOfWork(sessions) as uow:
        upcoming = await uow.workshops.upcoming(NOW)
        questions = await uow.workshops.questions(upcoming[0].id)
    assert [w.slug for w in upcoming] == ["taller-cita-previa", "taller-sede-electronica"]
    nearly_full, online = upcoming
    assert (nearly_full.capacity, nearly_full.seats_left) == (12, 2)
    assert nearly_full.starts_at == datetime(2026, 12, 1, 18, 0, tzinfo=MADRID)
    assert nearly_full.map_url and "openstreetmap.org" in nearly_full.map_url
    assert online.online_url and online.place is None and online.seats_left == 40
    for workshop in upcoming:
        assert set(workshop.title) == set(workshop.description) == DEMO_LANGUAGES
    assert [(q.kind, q.sensitive) for q in questions] == [("choice", False), ("text", True)]
    for question in questions:
        assert set(question.prompt) == DEMO_LANGUAGES
        for option in question.options:
            assert set(option) == DEMO_LANGUAGES


async def test_workshop_mistakes_are_named(sessions, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = SMALL + """    workshops:
      - slug: w
        title: {es: "Taller"}
        starts: 2027-01-10T18:00
        duration_minutes: 120
        capacity: 10
"""
    with pytest.raises(ImportProblem, match=r"workshop 'w'.*give either a place or an online_url"):
        await import_file(sessions, write(tmp_path, bad), NOW)
    with pytest.raises(ImportProblem, match="capacity: expected a whole number from 1"):
        await import_file(sessions, write(tmp_path, bad.replace(
            "capacity: 10", "capacity: 0\n        place: Aquí")), NOW)
    with pytest.raises(ImportProblem, match="starts: expected a date and time"):
        await import_file(sessions, write(tmp_path, bad.replace(
            "2027-01-10T18:00", "2027-01-10").replace("capacity: 10",
                                                      "capacity: 10\n        place: Aquí")),
            NOW)


async def test_edited_file_updates_titles_phases_and_order(sessions, tmp_path) -> None:  # type: ignore[no-untyped-def]
    await import_file(sessions, write(tmp_path, SMALL), NOW)
    edited = """
labs:
  - slug: lab-a
    title: {es: "Laboratorio A, edición 2", en: "Lab A, second edition"}
    phases:
      opinions: {opens: 2026-01-01, closes: 2027-06-30}
      proposals: {opens: "2026-03-01T09:00:00"}
    services:
      - slug: dos
        title: {es: "Dos (nuevo título)", en: "Two"}
        description: {es: "El segundo", en: "The second"}
      - slug: tres
        title: {es: "Tres"}
"""
    report = await import_file(sessions, write(tmp_path, edited), NOW)

    assert (report.labs_created, report.labs_updated) == (0, 1)
    assert (report.services_created, report.services_updated) == (1, 1)
    assert report.services_not_in_file == ["lab-a/uno"]
    async with SqlUnitOfWork(sessions) as uow:
        lab = await uow.catalog.lab_by_slug("lab-a")
    assert lab is not None
    assert lab.title == {"es": "Laboratorio A, edición 2", "en": "Lab A, second edition"}
    assert lab.description == {}
    services = await services_of(sessions, "lab-a")
    # The service left out of the file is kept (it may have opinions), last.
    assert [s.slug for s in services] == ["dos", "tres", "uno"]
    titles = {s.slug: s.title["es"] for s in services}
    assert titles == {"uno": "Uno", "dos": "Dos (nuevo título)", "tres": "Tres"}
    assert await counts(sessions) == (1, 3, 2)
    async with sessions() as session:
        phases = {p.phase: p for p in (await session.execute(select(m.LabPhase))).scalars()}
    assert phases["opinions"].closes_at == datetime(2027, 7, 1, tzinfo=MADRID)
    assert phases["proposals"].opens_at == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    assert phases["proposals"].closes_at is None


async def test_positions_follow_the_file_order(sessions, tmp_path) -> None:  # type: ignore[no-untyped-def]
    await import_file(sessions, write(tmp_path, SMALL), NOW)
    swapped = SMALL.replace("slug: uno", "slug: tmp").replace("slug: dos", "slug: uno") \
        .replace("slug: tmp", "slug: dos")
    report = await import_file(sessions, write(tmp_path, swapped), NOW)

    assert report.services_updated == 2
    assert [s.slug for s in await services_of(sessions, "lab-a")] == ["dos", "uno"]


async def test_removed_phase_is_removed(sessions, tmp_path) -> None:  # type: ignore[no-untyped-def]
    await import_file(sessions, write(tmp_path, SMALL), NOW)
    without_phases = SMALL.replace(
        "    phases:\n      opinions: {opens: 2026-01-01, closes: 2026-12-31}\n", "")
    report = await import_file(sessions, write(tmp_path, without_phases), NOW)

    assert report.labs_updated == 1
    assert await counts(sessions) == (1, 2, 0)


async def test_the_documented_example_imports(sessions) -> None:  # type: ignore[no-untyped-def]
    report = await import_file(sessions, EXAMPLE, NOW)

    assert (report.labs_created, report.services_created, report.proposals_created,
            report.workshops_created) == (1, 3, 1, 2)
    csv_report = await import_file(sessions, EXAMPLE.with_name("import-proposals-example.csv"),
                                   NOW)
    assert csv_report.proposals_created == 1
    async with sessions() as session:
        phases = {p.phase: p for p in (await session.execute(select(m.LabPhase))).scalars()}
        workshops = {w.slug: w for w in (await session.execute(select(m.Workshop))).scalars()}
    assert workshops["taller-ayudas-vivienda"].starts_at == datetime(2026, 6, 10, 16, 0,
                                                                     tzinfo=UTC)
    assert workshops["taller-vivienda-online"].starts_at == datetime(2026, 12, 8, 10, 0,
                                                                     tzinfo=UTC)
    # A date alone closes at the end of that day, Madrid time (CEST in April).
    assert phases["opinions"].closes_at == datetime(2026, 4, 30, 22, 0, tzinfo=UTC)
    # An explicit offset is taken as written.
    assert phases["ratings"].opens_at == datetime(2026, 5, 16, 7, 0, tzinfo=UTC)
    assert phases["workshops"].closes_at is None


INVALID = [
    pytest.param(
        SMALL.replace('title: {es: "Dos", en: "Two"}', 'title: {en: "Two"}'),
        ["labs.yaml", "lab 'lab-a'", "service 'dos'", "title", "'es'"], id="missing-es"),
    pytest.param(
        SMALL.replace("slug: uno", "slug: Uno_1"),
        ["lab 'lab-a'", "service #1", "slug", "'Uno_1'"], id="bad-slug"),
    pytest.param(
        SMALL.replace("slug: uno", "slug: 12"),
        ["lab 'lab-a'", "service #1", "slug", "not text"], id="number-slug"),
    pytest.param(
        SMALL.replace("      - slug: uno\n", "      - title_es: x\n"),
        ["lab 'lab-a'", "service #1", "slug", "missing"], id="missing-slug"),
    pytest.param(
        SMALL.replace("slug: dos", "slug: uno"),
        ["lab 'lab-a'", "service 'uno'", "slug", "more than once"], id="duplicate-service"),
    pytest.param(
        SMALL.replace("opinions: {", "opinons: {"),
        ["lab 'lab-a'", "phases", "'opinons'"], id="unknown-phase"),
    pytest.param(
        SMALL.replace("closes: 2026-12-31", "closes: 2025-12-31"),
        ["lab 'lab-a'", "phases.opinions.closes", "after opens"], id="closes-before-opens"),
    pytest.param(
        SMALL.replace("opens: 2026-01-01", "opens: 1st of January"),
        ["lab 'lab-a'", "phases.opinions.opens", "not a date"], id="bad-date"),
    pytest.param(
        SMALL.replace("    description: {es: \"Descripción A\"}", "    descripton: {es: \"A\"}"),
        ["lab 'lab-a'", "unknown key", "descripton"], id="unknown-key"),
    pytest.param(
        SMALL.replace('{es: "Uno", en: "One"}', '{es: "", en: "One"}'),
        ["service 'uno'", "title.es", "non-empty"], id="empty-text"),
    pytest.param(
        SMALL.replace('title: {es: "Uno", en: "One"}', 'title: "Uno"'),
        ["service 'uno'", "title", "per language"], id="title-not-mapping"),
    pytest.param("labs: [\n  - slug: x\n  title: y\n", ["labs.yaml", "line", "not valid YAML"],
                 id="yaml-syntax"),
    pytest.param("", ["labs.yaml", "empty"], id="empty-file"),
    pytest.param("workshops: []\n", ["unknown top-level key", "workshops"], id="unknown-top"),
]


@pytest.mark.parametrize(("text", "fragments"), INVALID)
async def test_invalid_file_is_rejected_naming_item_and_field(  # type: ignore[no-untyped-def]
        sessions, tmp_path, text, fragments) -> None:
    await import_file(sessions, write(tmp_path, SMALL), NOW)
    before = await counts(sessions)

    with pytest.raises(ImportProblem) as raised:
        await import_file(sessions, write(tmp_path, text), NOW)

    for fragment in fragments:
        assert fragment in str(raised.value), (fragment, str(raised.value))
    assert await counts(sessions) == before


async def test_only_yaml_and_proposal_csv_files_are_accepted(sessions, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ImportProblem, match=r"services\.txt.*only YAML.*CSV"):
        await import_file(sessions, write(tmp_path, "slug,title\n", "services.txt"), NOW)
    with pytest.raises(ImportProblem, match=r"services\.csv.*missing column.*title_es"):
        await import_file(sessions, write(tmp_path, "slug,title\n", "services.csv"), NOW)


async def test_missing_file_is_a_clear_problem(sessions, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ImportProblem, match="no such file"):
        await import_file(sessions, tmp_path / "nowhere.yaml", NOW)
