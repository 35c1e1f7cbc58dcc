"""The lab report's workshop section: sign-ups, attendance, feedback per workshop."""

from __future__ import annotations

from sqlalchemy import update

from storage import models as m
from storage.export import write_sections
from storage.reports import lab_report
from storage.sql import SqlUnitOfWork
from tests.harness import NOW
from tests.workshop_fixtures import add_citizens, add_workshop


async def test_workshop_numbers_on_a_known_fixture(sessions):  # type: ignore[no-untyped-def]
    first = await add_workshop(sessions, NOW, slug="citas", capacity=3)
    await add_workshop(sessions, NOW, slug="vacio", capacity=10)
    citizens = await add_citizens(sessions, NOW, 5)
    async with SqlUnitOfWork(sessions) as uow:
        for citizen in citizens:
            await uow.workshops.sign_up(first, citizen, NOW)  # 3 seats, 2 waiting
        await uow.commit()
    async with SqlUnitOfWork(sessions) as uow:
        registrations = [await uow.workshops.registration_of(first, c) for c in citizens]
        for registration, score in zip(registrations[:2], (5, 2), strict=True):
            assert registration is not None
            await uow.workshops.check_in(registration.id, NOW)
            await uow.workshops.give_feedback(registration.id, score)
        await uow.workshops.feedback_comment(registrations[0].id, "=SUM(A1) great")
        await uow.commit()
    async with sessions() as session:
        await session.execute(update(m.Citizen).values(username="secret_user"))
        await session.commit()
        sections = await lab_report(session, "tu-atencion", "es", NOW)
    assert sections is not None
    workshops, feedback = sections[-3:-1]
    assert workshops.title == "Workshops"
    assert [row[:2] + tuple(row[3:]) for row in workshops.rows] == [
        ("citas", "Taller de cita previa", "scheduled", 3, 3, 2, 2, 2, 3.5),
        ("vacio", "Taller de cita previa", "scheduled", 10, 0, 0, 0, 0, None),
    ]
    assert [tuple(r) for r in feedback.rows] == [("citas", 5, "=SUM(A1) great")]
    csv_bytes = write_sections(sections, "csv")
    assert b"secret_user" not in csv_bytes and b"'=SUM(A1) great" in csv_bytes
