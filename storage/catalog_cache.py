"""The catalog (labs, their phases, services) kept in memory between events.

Most steps of the opinion journey check that the lab is still open and
read its services: two or three statements of an event's five or six. Each
process keeps one snapshot per database and uses it while the catalog's
version, read in the statement that starts every event, is the one the
snapshot was loaded at (:mod:`storage.catalog_version`). A phase opening or
closing with time needs no new snapshot: windows are compared with the
event's clock, as the query did.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from weakref import WeakKeyDictionary

from sqlalchemy import select
from sqlalchemy.engine import Connection

from storage import models as m
from storage.records import LabRecord, ServiceRecord

_labs, _phases, _services = m.Lab.__table__, m.LabPhase.__table__, m.Service.__table__
_ALL_LABS = select(_labs.c.id, _labs.c.slug, _labs.c.title, _labs.c.description) \
    .order_by(_labs.c.id)
_ALL_PHASES = select(_phases.c.phase, _phases.c.lab_id, _phases.c.opens_at, _phases.c.closes_at)
_ALL_SERVICES = select(_services.c.id, _services.c.lab_id, _services.c.slug, _services.c.title,
                       _services.c.description) \
    .order_by(_services.c.lab_id, _services.c.position, _services.c.id)


@dataclass(frozen=True, slots=True)
class PhaseWindow:
    lab_id: int
    opens_at: datetime
    closes_at: datetime | None

    def is_open(self, now: datetime) -> bool:
        return self.opens_at <= now and (self.closes_at is None or self.closes_at > now)


@dataclass(frozen=True)
class CatalogSnapshot:
    version: int | None  # None: read for one unit of work only, not shared
    labs: tuple[LabRecord, ...]  # by id, as the query ordered them
    phases: dict[str, tuple[PhaseWindow, ...]]
    services_of_lab: dict[int, tuple[ServiceRecord, ...]]  # by position, then id
    services: dict[int, ServiceRecord]

    def labs_open_for(self, phase: str, now: datetime) -> list[LabRecord]:
        open_ids = {window.lab_id for window in self.phases.get(phase, ())
                    if window.is_open(now)}
        return [lab for lab in self.labs if lab.id in open_ids]


def load(connection: Connection, version: int | None) -> CatalogSnapshot:
    """The whole catalog, in one hop (run through ``AsyncConnection.run_sync``)."""
    labs = tuple(LabRecord(r.id, r.slug, dict(r.title), dict(r.description or {}))
                 for r in connection.execute(_ALL_LABS))
    phases: dict[str, list[PhaseWindow]] = {}
    for r in connection.execute(_ALL_PHASES):
        phases.setdefault(r.phase, []).append(PhaseWindow(r.lab_id, r.opens_at, r.closes_at))
    services_of_lab: dict[int, list[ServiceRecord]] = {}
    for r in connection.execute(_ALL_SERVICES):
        services_of_lab.setdefault(r.lab_id, []).append(ServiceRecord(
            r.id, r.lab_id, r.slug, dict(r.title), dict(r.description or {})))
    return CatalogSnapshot(
        version, labs, {phase: tuple(windows) for phase, windows in phases.items()},
        {lab_id: tuple(services) for lab_id, services in services_of_lab.items()},
        {s.id: s for services in services_of_lab.values() for s in services})


class CatalogCache:
    """The latest snapshot of one database, shared by the events of a process."""

    def __init__(self) -> None:
        self.snapshot: CatalogSnapshot | None = None


_caches: WeakKeyDictionary[object, CatalogCache] = WeakKeyDictionary()


def cache_for(database: object) -> CatalogCache:
    """One cache per session factory (one per database in a process)."""
    cache = _caches.get(database)
    if cache is None:
        cache = _caches[database] = CatalogCache()
    return cache
