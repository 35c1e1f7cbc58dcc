"""The unit of work the engine owns: one per event, rolled back unless committed.

Handlers reach storage only through these repositories, so the engine can
hand them either the SQL implementation or the in-memory fake
(:mod:`storage.memory`) used by the engine benchmark.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, Self

from storage.outbox import NewNotification
from storage.personal_data import Erasure
from storage.records import (
    CitizenRecord,
    ConsentRecord,
    LabRecord,
    NewOpinion,
    ServiceRecord,
    StateRecord,
)
from storage.workshops import SqlWorkshops


class UpdatesRepo(Protocol):
    async def mark_seen(self, update_id: int, now: datetime) -> bool:
        """Record the update; False when it was seen already (a redelivery)."""


class ConversationsRepo(Protocol):
    async def load(self, chat_id: int, user_id: int) -> StateRecord: ...
    async def save(self, state: StateRecord, now: datetime) -> None: ...


class CitizensRepo(Protocol):
    async def by_telegram_id(self, telegram_id: int) -> CitizenRecord | None: ...
    async def register(
        self, telegram_id: int, username: str | None, first_name: str | None,
        language: str, now: datetime,
    ) -> CitizenRecord: ...
    async def seen(self, citizen: CitizenRecord, username: str | None, now: datetime) -> None: ...
    async def set_language(self, citizen_id: int, language: str) -> None: ...
    async def set_blocked(self, telegram_id: int, blocked: bool, now: datetime) -> None: ...
    async def give_consent(
        self, citizen_id: int, purpose: str, version: str, now: datetime
    ) -> None: ...
    async def has_consent(self, citizen_id: int, purpose: str) -> bool: ...
    async def consents(self, citizen_id: int) -> list[ConsentRecord]: ...
    async def withdraw_consent(self, citizen_id: int, purpose: str, now: datetime) -> None: ...
    async def roles(self, citizen_id: int) -> frozenset[str]:
        """The roles granted to this citizen (``ADMIN_IDS`` are not rows)."""


class CatalogRepo(Protocol):
    async def labs_open_for(self, phase: str, now: datetime) -> list[LabRecord]: ...
    async def lab_by_slug(self, slug: str) -> LabRecord | None: ...
    async def lab(self, lab_id: int) -> LabRecord | None: ...
    async def services(self, lab_id: int) -> list[ServiceRecord]: ...
    async def service(self, service_id: int) -> ServiceRecord | None: ...


class OpinionsRepo(Protocol):
    async def add(self, opinion: NewOpinion) -> int: ...


class OutboxRepo(Protocol):
    async def enqueue(self, item: NewNotification) -> int | None:
        """The row's id, or None when its dedupe key was queued already."""

    async def cancel_to(self, chat_id: int, reason: str) -> int:
        """Cancel what is still queued for this chat; how many rows."""


class PersonalDataRepo(Protocol):
    async def collect(self, telegram_id: int) -> dict[str, list[dict[str, Any]]]: ...
    async def erase(self, telegram_id: int, *, keep_comments: bool,
                    now: datetime) -> Erasure: ...


class UnitOfWork(Protocol):
    updates: UpdatesRepo
    conversations: ConversationsRepo
    citizens: CitizensRepo
    catalog: CatalogRepo
    opinions: OpinionsRepo
    outbox: OutboxRepo
    personal: PersonalDataRepo
    # SQL-only (capacity and uniqueness are the database's job); the in-memory
    # benchmark double has none.
    workshops: SqlWorkshops

    async def __aenter__(self) -> Self: ...
    async def __aexit__(self, *exc: object) -> None: ...
    async def commit(self) -> None: ...
    async def rollback(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...
