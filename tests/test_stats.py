"""/stats: the numbers behind each chart on a known fixture, real pictures,
captions that say the same numbers; /report: a real spreadsheet."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook
from PIL import Image

from conversations import charts
from conversations.i18n import translator
from conversations.vocabulary import Document, Edit, Photo, Send
from storage.sql import SqlUnitOfWork
from storage.stats import (
    BestProposal,
    Participants,
    TicketFigures,
    WorkshopFigures,
    lab_stats,
    period,
)
from tests.harness import NOW, Person
from tests.moderation_helpers import BOSS, engine_for, in_group
from tests.stats_fixtures import THIS_MONTH, seed_stats

EN = translator("en")


def test_periods_are_calendar_weeks_and_months_in_the_time_zone() -> None:
    week = period("week", NOW, "Europe/Madrid")
    assert (week.start, week.end) == (datetime(2026, 11, 22, 23, tzinfo=UTC),
                                      datetime(2026, 11, 29, 23, tzinfo=UTC))
    month = period("month", NOW, "Europe/Madrid")
    assert (month.start, month.end) == (datetime(2026, 10, 31, 23, tzinfo=UTC),
                                        datetime(2026, 11, 30, 23, tzinfo=UTC))
    # A month that starts in summer time begins at 22:00 UTC.
    assert period("month", datetime(2026, 7, 10, tzinfo=UTC), "Europe/Madrid").start == \
        datetime(2026, 6, 30, 22, tzinfo=UTC)
    assert period("all", NOW, "Europe/Madrid").start is None
    with pytest.raises(ValueError):
        period("year", NOW, "Europe/Madrid")


def _rank(count: int, total: int) -> float:
    return round((3.0 * 5 + total) / (5 + count), 2)


async def test_the_numbers_fed_to_each_chart(sql_backend) -> None:  # type: ignore[no-untyped-def]
    labs = await seed_stats(sql_backend.sessions)
    async with sql_backend.sessions() as session:
        week = await lab_stats(session, labs["lab"], period("week", NOW, "Europe/Madrid"), "en")
        month = await lab_stats(session, labs["lab"], period("month", NOW, "Europe/Madrid"),
                                "en")
        whole = await lab_stats(session, labs["lab"], period("all", NOW, "Europe/Madrid"), "en")
        other = await lab_stats(session, labs["other"], period("all", NOW, "Europe/Madrid"),
                                "en")
        assert await lab_stats(session, 999_999, period("all", NOW, "Europe/Madrid"),
                               "en") is None
    assert week and month and whole and other

    assert week.participants == Participants(total=4, opinions=2, proposals=2, ratings=3,
                                             workshops=1)
    assert [(s.slug, s.distribution, s.average) for s in week.services] == [
        ("phone", (0, 0, 0, 1, 1), 4.5), ("offices", (1, 0, 0, 0, 0), 1.0),
        ("web", (0, 0, 0, 0, 0), None)]
    assert {k: v for k, v in week.proposals.by_status.items() if v} == \
        {"published": 1, "pending": 1}
    assert week.proposals.best == [
        BestProposal(week.proposals.best[0].reference, "Longer-Hours", 3, 4.67, _rank(3, 14))]
    assert [(w.slug, w.signed_up, w.attended, w.feedback_answers) for w in week.workshops] == \
        [("next", 1, 0, 0)]
    assert week.tickets == TicketFigures(opened=1, closed=1, satisfaction=(0, 0, 0, 1, 0))

    assert month.participants == Participants(total=4, opinions=3, proposals=3, ratings=4,
                                              workshops=3)
    assert [(s.slug, s.distribution, s.average) for s in month.services][:2] == [
        ("phone", (0, 1, 0, 1, 1), 3.67), ("offices", (1, 0, 0, 0, 0), 1.0)]
    assert {k: v for k, v in month.proposals.by_status.items() if v} == \
        {"published": 1, "accepted": 1, "rejected": 1, "pending": 1}
    assert [b.title for b in month.proposals.best] == ["Longer-Hours", "More-Staff"]
    assert month.workshops == [
        WorkshopFigures("kickoff", "Kickoff", THIS_MONTH, 3, 2, 2, 4.0),
        WorkshopFigures("next", "Next", month.workshops[1].starts_at, 1, 0, 0, None)]
    assert month.tickets == TicketFigures(opened=2, closed=2, satisfaction=(0, 1, 0, 1, 0))
    assert month.tickets.satisfaction_average == 3.0

    assert whole.participants == Participants(total=4, opinions=4, proposals=4, ratings=4,
                                              workshops=3)
    assert [s.distribution for s in whole.services] == [
        (0, 1, 0, 1, 1), (1, 0, 1, 0, 0), (0, 0, 0, 0, 0)]
    assert whole.proposals.total == 5
    assert [(b.title, b.ratings, b.average, b.rank_score) for b in whole.proposals.best] == [
        ("Longer-Hours", 3, 4.67, _rank(3, 14)), ("Better-Web", 2, 4.5, _rank(2, 9)),
        ("More-Staff", 1, 3.0, _rank(1, 3))]
    assert whole.tickets == TicketFigures(opened=4, closed=3, satisfaction=(0, 1, 0, 1, 0))

    # Another lab shares nothing but the tickets (which belong to no lab).
    assert other.participants.total == 0 and other.proposals.total == 0
    assert other.workshops == [] and other.tickets == whole.tickets


def assert_real_picture(png: bytes) -> None:
    image = Image.open(io.BytesIO(png))
    image.load()
    assert image.format == "PNG"
    assert image.size == (charts.WIDTH_PX, charts.HEIGHT_PX)
    colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 10, "a blank or nearly blank picture"


async def test_each_chart_is_a_real_picture(sql_backend) -> None:  # type: ignore[no-untyped-def]
    labs = await seed_stats(sql_backend.sessions)
    async with sql_backend.sessions() as session:
        figures = await lab_stats(session, labs["lab"], period("all", NOW, "Europe/Madrid"),
                                  "en")
    assert figures is not None
    for png in (charts.participants_chart(figures.participants, EN, "Participants"),
                charts.opinions_chart(figures.services, EN, "Opinions"),
                charts.proposals_chart(figures.proposals, EN, "Proposals"),
                charts.workshops_chart(figures.workshops, EN, "Workshops"),
                charts.tickets_chart(figures.tickets, EN, "Tickets")):
        assert_real_picture(png)


@pytest.fixture
async def staff(sql_backend):  # type: ignore[no-untyped-def]
    labs = await seed_stats(sql_backend.sessions)
    boss = Person(engine_for(sql_backend), id=BOSS, first_name="Marta", username="marta")
    await boss.consent()
    return boss, labs


def photos(outcome) -> list[Photo]:  # type: ignore[no-untyped-def]
    return [r for r in outcome.replies if isinstance(r, Photo)]


async def test_stats_choose_a_lab_and_a_period_then_charts_with_captions(  # type: ignore[no-untyped-def]
        staff, monkeypatch):
    boss, _ = staff
    fed: dict[str, object] = {}
    for name in ("participants_chart", "opinions_chart", "proposals_chart", "workshops_chart",
                 "tickets_chart"):
        real = getattr(charts, name)

        def spy(figures, t, title, real=real, name=name):  # type: ignore[no-untyped-def]
            fed[name] = figures
            return real(figures, t, title)
        monkeypatch.setattr(charts, name, spy)

    await boss.command("/stats")
    assert "Which laboratory?" in boss.shown
    assert boss.labels()[:2] == ["Our lab", "Other lab"]
    await boss.press("Our lab")
    assert "Which period?" in boss.shown
    assert boss.labels() == ["This week", "This month", "The whole lab", "⬅️ Back",
                             "✖️ Cancel"]
    outcome = await boss.press("This month")
    [heading] = [r for r in outcome.replies if isinstance(r, Edit)]
    assert "Statistics of Our lab" in heading.text and heading.buttons == ()
    assert "This month: from Nov 1, 2026 to Nov 30, 2026" in heading.text
    sent = photos(outcome)
    assert len(sent) == 5
    for picture in sent:
        assert isinstance(picture.content, bytes)
        assert_real_picture(picture.content)
    participants, opinions, proposals, workshops, tickets = (p.caption or "" for p in sent)
    assert "4 people took part." in participants and "Gave an opinion: 3" in participants
    assert "Phone: 3 opinions, average 3.67 (1★ 0 · 2★ 1 · 3★ 0 · 4★ 1 · 5★ 1)" in opinions
    assert "Offices: 1 opinion, average 1 " in opinions and "Web: no opinions" in opinions
    assert "4 proposals:" in proposals and "Not accepted: 1" in proposals
    assert "1. Longer-Hours (PR-" in proposals and "from 3 ratings" in proposals
    assert "Kickoff (Nov 14, 2026): signed up 3, attended 2, feedback answers 2, average " \
        "feedback 4" in workshops
    assert "Opened: 2. Closed: 2." in tickets and "average 3 from 2 answers" in tickets
    assert isinstance(fed["participants_chart"], Participants)
    assert fed["participants_chart"].total == 4  # type: ignore[attr-defined]
    assert next(s.distribution for s in fed["opinions_chart"]) == (0, 1, 0, 1, 1)  # type: ignore[attr-defined]
    assert fed["tickets_chart"] == TicketFigures(2, 2, (0, 1, 0, 1, 0))

    # The conversation is over: the period buttons are gone from that message.
    assert boss.history[-1].replies[-1] == sent[-1]


async def test_a_section_without_data_is_said_in_text(staff) -> None:  # type: ignore[no-untyped-def]
    boss, _ = staff
    await boss.command("/stats")
    await boss.press("Other lab")
    outcome = await boss.press("This week")
    texts = [r.text for r in outcome.replies if isinstance(r, Send)]
    assert any("Nobody took part in this period." in t for t in texts)
    assert any("No opinions in this period." in t for t in texts)
    assert any("No proposals in this period." in t for t in texts)
    assert any("No workshops in this period." in t for t in texts)
    # Tickets belong to no lab: the week's are there.
    assert len(photos(outcome)) == 1 and "Opened: 1" in (photos(outcome)[0].caption or "")


async def test_stats_in_spanish_and_numbers_in_the_locale(sql_backend) -> None:  # type: ignore[no-untyped-def]
    await sql_backend.add_lab("solo", "Solo", ["Uno"])
    boss = Person(engine_for(sql_backend), id=BOSS, language="es", first_name="Marta")
    await boss.command("/start")
    await boss.press("Continuar")
    await boss.press(boss.labels()[0])
    await boss.command("/stats")
    # One lab: straight to the period, with no way back to a lab list.
    assert "¿Qué periodo?" in boss.shown and "⬅️ Volver" not in boss.labels()
    outcome = await boss.press("Todo el laboratorio")
    texts = " ".join(r.text for r in outcome.replies if isinstance(r, Send | Edit))
    assert "Desde que empezó el laboratorio" in texts
    assert "Nadie ha participado en este periodo." in texts


async def test_a_vanished_lab_is_answered_politely(staff, sql_backend) -> None:  # type: ignore[no-untyped-def]
    boss, _ = staff
    await boss.command("/stats")
    await boss.press("Other lab")
    from sqlalchemy import delete

    from storage import models as m
    async with sql_backend.sessions() as session:
        await session.execute(delete(m.Service).where(m.Service.slug == "else"))
        await session.execute(delete(m.Lab).where(m.Lab.slug == "other"))
        await session.commit()
    outcome = await boss.press("This week")
    assert "no longer available" in " ".join(r.text or "" for r in outcome.replies
                                             if isinstance(r, Send | Edit))


async def test_report_sends_the_spreadsheet_and_a_summary(staff) -> None:  # type: ignore[no-untyped-def]
    boss, _ = staff
    outcome = await boss.command("/report lab")
    [document] = [r for r in outcome.replies if isinstance(r, Document)]
    assert document.name == "report-lab-20261124.xlsx"
    workbook = load_workbook(io.BytesIO(document.content))
    assert workbook.sheetnames == ["Summary", "Opinions by service", "Comments", "Proposals",
                                   "Commitments", "Workshops", "Workshop feedback", "Tickets"]
    summary = {row[0]: row[1] for row in workbook["Summary"].iter_rows(min_row=2,
                                                                       values_only=True)}
    assert (summary["participants"], summary["opinions"], summary["proposals"],
            summary["tickets"]) == (4, 5, 4, 4)
    commitments = list(workbook["Commitments"].iter_rows(min_row=2, values_only=True))
    assert [(r[1], r[2], r[4]) for r in commitments] == [
        ("Better-Web", "implemented", "Answer to better-web"),
        ("More-Staff", "accepted", "Answer to more-staff")]
    tickets = {row[0]: row[1] for row in workbook["Tickets"].iter_rows(min_row=2,
                                                                       values_only=True)}
    assert (tickets["opened"], tickets["closed"], tickets["satisfaction_answers"],
            tickets["satisfaction_average"]) == (4, 3, 2, 3)
    [text] = [r.text for r in outcome.replies if isinstance(r, Send)]
    assert "Report of Our lab" in text and "Participants: 4 · Opinions: 5 (average 3)" in text


async def test_report_of_an_unknown_lab_lists_the_labs(staff) -> None:  # type: ignore[no-untyped-def]
    boss, _ = staff
    outcome = await boss.command("/report <nope>")
    [text] = [r.text for r in outcome.replies if isinstance(r, Send)]
    assert "There is no laboratory with the code &lt;nope&gt;" in text
    assert "<code>lab</code>, <code>other</code>" in text
    outcome = await boss.command("/report")
    assert "Please write the laboratory's code" in outcome.replies[0].text  # type: ignore[union-attr]
    assert not [r for r in outcome.replies if isinstance(r, Document)]


async def test_charts_are_drawn_after_the_commit_and_a_failure_is_said(  # type: ignore[no-untyped-def]
        staff, monkeypatch):
    boss, _ = staff
    happened: list[str] = []
    real_commit = SqlUnitOfWork.commit

    async def commit(self):  # type: ignore[no-untyped-def]
        stored = await real_commit(self)
        happened.append("commit")
        return stored
    monkeypatch.setattr(SqlUnitOfWork, "commit", commit)

    def broken(figures, t, title):  # type: ignore[no-untyped-def]
        happened.append("draw")
        raise RuntimeError("no fonts")
    monkeypatch.setattr(charts, "participants_chart", broken)

    await boss.command("/stats")
    await boss.press("Our lab")
    happened.clear()
    spent = boss.button("This week")
    outcome = await boss.press("This month")
    assert happened == ["commit", "draw"]  # no transaction waits for the drawing
    texts = [r.text for r in outcome.replies if isinstance(r, Send)]
    assert texts == ["Sorry, I could not draw the charts. Please try again in a few minutes."]
    assert not photos(outcome)
    # The conversation moved on all the same: the period buttons are spent.
    again = await boss.press_data(spent)
    assert again.replies[0].text == "This button has expired."  # type: ignore[union-attr]


async def test_in_the_moderators_group_stats_points_to_the_private_chat(  # type: ignore[no-untyped-def]
        staff) -> None:
    boss, _ = staff
    in_the_group = in_group(boss.engine, BOSS, "Marta")
    outcome = await in_the_group.command("/stats")
    assert [r.text for r in outcome.replies if isinstance(r, Send)] == [
        "The statistics are chosen step by step: please write /stats to me in a private chat."]
    outcome = await in_the_group.command("/report lab")  # a file is fine in the group
    assert [r.name for r in outcome.replies if isinstance(r, Document)] == \
        ["report-lab-20261124.xlsx"]
