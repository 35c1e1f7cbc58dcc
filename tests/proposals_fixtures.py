"""Seeding proposals for the proposals tests (flow, e2e, personal data)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from storage import models as m
from storage.proposals import PRIOR_MEAN
from tests.harness import NOW

PHASES = ("opinions", "proposals", "ratings")


async def add_lab(sessions, slug: str = "tu-atencion", title: str = "Tu Atención",  # type: ignore[no-untyped-def]
                  services: tuple[str, ...] = ("Phone line 012", "Registry offices"), *,
                  phases: dict[str, tuple[datetime, datetime | None]] | None = None) -> int:
    """A lab with services and its phases (all open by default); its id."""
    phases = phases if phases is not None else {
        name: (NOW - timedelta(days=30), None) for name in PHASES}
    async with sessions() as session:
        lab = m.Lab(slug=slug, title={"es": title, "en": title}, description={},
                    created_at=NOW)
        session.add(lab)
        await session.flush()
        for name, (opens, closes) in phases.items():
            session.add(m.LabPhase(lab_id=lab.id, phase=name, opens_at=opens, closes_at=closes))
        for position, service in enumerate(services):
            session.add(m.Service(lab_id=lab.id, slug=service.lower().replace(" ", "-"),
                                  title={"es": service, "en": service}, description={},
                                  position=position))
        await session.commit()
        return lab.id


async def service_id(sessions, slug: str) -> int:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        return (await session.execute(select(m.Service.id).where(
            m.Service.slug == slug))).scalar_one()


async def add_proposals(sessions, lab_id: int, count: int, *, status: str = "published",  # type: ignore[no-untyped-def]
                        service: int | None = None, author_kind: str = "staff",
                        prefix: str = "Proposal", start: datetime = NOW - timedelta(days=10),
                        ) -> list[int]:
    """``count`` proposals, one a minute from ``start`` (so the last is the newest)."""
    ids = []
    async with sessions() as session:
        existing = len((await session.execute(select(m.Proposal.id))).all())
        for n in range(1, count + 1):
            title = f"{prefix} {n}"
            at = start + timedelta(minutes=n)
            row = m.Proposal(
                slug=f"{prefix.lower().replace(' ', '-')}-{existing + n}", lab_id=lab_id,
                service_id=service, title={"es": title, "en": title},
                description={"es": f"Texto {n}", "en": f"Text of {title}"},
                author_kind=author_kind, citizen_id=None, language="es", status=status,
                answer={}, rated_1=0, rated_2=0, rated_3=0, rated_4=0, rated_5=0,
                ratings_count=0, ratings_sum=0, rank_score=PRIOR_MEAN, created_at=at,
                updated_at=at, status_changed_at=at)
            session.add(row)
            await session.flush()
            ids.append(row.id)
        await session.commit()
    return ids


async def rows(sessions, model) -> list[dict]:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        found = (await session.execute(select(model).order_by(
            *model.__table__.primary_key))).scalars().all()
        return [{c.key: getattr(r, c.key) for c in model.__table__.columns} for r in found]
