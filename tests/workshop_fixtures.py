"""Seeding workshops for tests and the sign-up benchmark (SQL backends only)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import insert, select

from storage import models as m
from storage.workshops import NewQuestion, NewWorkshop, SqlWorkshops

TITLES = {"es": "Taller de cita previa", "en": "Appointments workshop"}


async def add_workshop_lab(sessions, now: datetime, slug: str = "tu-atencion") -> int:  # type: ignore[no-untyped-def]
    """A lab open for workshops (and opinions); its id. Reuses an existing one."""
    async with sessions() as session:
        found = (await session.execute(select(m.Lab.id).where(m.Lab.slug == slug))
                 ).scalar_one_or_none()
        if found is None:
            lab = m.Lab(slug=slug, title={"es": "Tu Atención", "en": "Your Service"},
                        description={}, created_at=now)
            session.add(lab)
            await session.flush()
            found = lab.id
            session.add(m.LabPhase(lab_id=found, phase="workshops",
                                   opens_at=now - timedelta(days=30), closes_at=None))
        await session.commit()
        return found


async def add_workshop(sessions, now: datetime, *, slug: str = "citas", capacity: int = 30,  # type: ignore[no-untyped-def]
                       starts_in: timedelta = timedelta(days=5), lab_id: int | None = None,
                       questions: tuple[NewQuestion, ...] = (), online: bool = False,
                       title: dict[str, str] | None = None) -> int:
    if lab_id is None:
        lab_id = await add_workshop_lab(sessions, now)
    starts = now + starts_in
    async with sessions() as session:
        repo = SqlWorkshops(session)
        workshop_id = await repo.create(NewWorkshop(
            slug=slug, lab_id=lab_id, title=title or TITLES,
            description={"es": "Rediseñamos la cita previa", "en": "We redesign bookings"},
            starts_at=starts, ends_at=starts + timedelta(hours=2), capacity=capacity,
            place=None if online else "Calle Mayor 1, Valladolid",
            map_url=None if online else "https://www.openstreetmap.org/search?query=Calle%20Mayor%201",
            online_url="https://meet.example.org/citas" if online else None,
            questions=questions), now)
        await session.commit()
    assert workshop_id is not None
    return workshop_id


async def add_citizens(sessions, now: datetime, count: int, first_id: int = 700_000  # type: ignore[no-untyped-def]
                       ) -> list[int]:
    """``count`` consented citizens at once; their citizen ids."""
    async with sessions() as session:
        await session.execute(insert(m.Citizen), [
            {"telegram_id": first_id + n, "username": f"c{n}", "first_name": f"Citizen {n}",
             "language": "es", "first_seen": now, "last_seen": now, "blocked_bot": False}
            for n in range(count)])
        ids = list((await session.execute(select(m.Citizen.id).where(
            m.Citizen.telegram_id >= first_id, m.Citizen.telegram_id < first_id + count)
            .order_by(m.Citizen.id))).scalars())
        await session.commit()
    return ids
