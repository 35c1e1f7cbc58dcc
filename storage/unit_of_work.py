"""The unit of work the engine owns: one per event, rolled back unless committed.

Handlers reach storage only through these repositories, so the engine can
hand them either the SQL implementation or the in-memory fake
(:mod:`storage.memory`) used by the engine benchmark.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, Self

from storage.broadcasts import BroadcastFigures, NewBroadcast, Rendered
from storage.moderation import SqlAudit, SqlChats, SqlModeration, SqlStaff, SqlTickets
from storage.outbox import NewNotification
from storage.personal_data import Erasure
from storage.proposal_reviews import SqlProposalReviews
from storage.records import (
    CitizenRecord,
    ConsentRecord,
    EventStart,
    LabRecord,
    NewOpinion,
    NewProposal,
    ParticipationItem,
    PreferencesRecord,
    ProposalPage,
    ProposalRecord,
    ServiceRecord,
    StateRecord,
    StatusChange,
)
from storage.stats import SqlStats
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

    async def release(self, key_prefix: str, thread_id: int | None, now: datetime) -> int:
        """Held rows whose dedupe key starts with ``key_prefix`` become due (SQL only)."""


class BroadcastsRepo(Protocol):
    """SQL only (see :mod:`storage.broadcasts`)."""

    async def count(self, kind: str, audience_key: str, value: Any) -> dict[str, int]:
        """Recipients by language."""

    async def queue(self, new: NewBroadcast, rendered: dict[str, Rendered],
                    now: datetime) -> tuple[int, int]:
        """Create the broadcast and queue its rows: (id, rows queued)."""

    async def latest(self, limit: int, now: datetime) -> list[BroadcastFigures]: ...
    async def labs(self) -> list[LabRecord]:
        """Every lab, open or not."""

    async def figures(self, broadcast_id: int, now: datetime) -> BroadcastFigures | None: ...
    async def pause(self, broadcast_id: int, now: datetime) -> str | None:
        """None when done, else the status that prevented it ("missing": no such one)."""

    async def resume(self, broadcast_id: int, now: datetime) -> str | None: ...
    async def cancel(self, broadcast_id: int, now: datetime) -> str | None: ...


class PersonalDataRepo(Protocol):
    async def collect(self, telegram_id: int) -> dict[str, list[dict[str, Any]]]: ...
    async def erase(self, telegram_id: int, *, keep_comments: bool,
                    now: datetime) -> Erasure: ...


class PreferencesRepo(Protocol):
    async def get(self, citizen_id: int) -> PreferencesRecord: ...
    async def set(self, citizen_id: int, name: str, value: bool, now: datetime) -> None: ...


class ProposalsRepo(Protocol):
    async def page(self, lab_id: int, service_id: int | None, order: str, page: int,
                   per_page: int) -> ProposalPage: ...
    async def visible(self, proposal_id: int) -> ProposalRecord | None: ...
    async def by_slug(self, slug: str) -> ProposalRecord | None: ...
    async def my_rating(self, proposal_id: int, citizen_id: int) -> int | None: ...
    async def rate(self, proposal_id: int, citizen_id: int, score: int,
                   now: datetime) -> ProposalRecord | None: ...
    async def get(self, proposal_id: int) -> ProposalRecord | None: ...
    async def lock_pending(self, proposal_id: int) -> ProposalRecord | None: ...
    async def is_hidden(self, proposal_id: int) -> bool: ...
    async def submit(self, proposal: NewProposal) -> int: ...
    async def submitted_since(self, citizen_id: int, since: datetime) -> int: ...
    async def change_status(self, slug: str, status: str, answer: dict[str, str] | None,
                            now: datetime) -> StatusChange | None: ...
    async def participation(self, citizen_id: int) -> list[ParticipationItem]: ...


async def start_event_step_by_step(uow: UnitOfWork, update_id: int | None, now: datetime,
                                   telegram_id: int, chat_id: int) -> EventStart:
    """:meth:`UnitOfWork.start_event` as its three separate calls."""
    if update_id is not None and not await uow.updates.mark_seen(update_id, now):
        return EventStart(False, None, StateRecord(chat_id=chat_id, user_id=telegram_id))
    return EventStart(True, await uow.citizens.by_telegram_id(telegram_id),
                      await uow.conversations.load(chat_id, telegram_id))


class UnitOfWork(Protocol):
    """``staff``, ``audit``, ``tickets``, ``moderation`` and ``chats`` are SQL-only
    (:mod:`storage.moderation`); the in-memory benchmark double has none of them."""

    updates: UpdatesRepo
    conversations: ConversationsRepo
    citizens: CitizensRepo
    catalog: CatalogRepo
    opinions: OpinionsRepo
    outbox: OutboxRepo
    personal: PersonalDataRepo
    # SQL only (not in the in-memory fake): their journeys run on a database.
    preferences: PreferencesRepo
    proposals: ProposalsRepo
    staff: SqlStaff
    audit: SqlAudit
    tickets: SqlTickets
    moderation: SqlModeration
    chats: SqlChats
    broadcasts: BroadcastsRepo  # SQL only
    workshops: SqlWorkshops
    stats: SqlStats  # SQL only: /stats and /report
    reviews: SqlProposalReviews  # SQL only: proposals posted for moderation

    async def start_event(self, update_id: int | None, now: datetime, telegram_id: int,
                          chat_id: int) -> EventStart:
        """What every event needs first: record its update id (``fresh`` is False
        for a redelivery), its person and their conversation. The same as
        updates.mark_seen, citizens.by_telegram_id and conversations.load, in
        as few round trips as the store allows."""
        ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(self, *exc: object) -> None: ...
    async def commit(self) -> bool:
        """Store what the unit of work wrote. False when the event's update
        turned out to be handled already (another worker committed it in the
        meantime): then nothing of this event was stored."""
        ...

    async def rollback(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...
