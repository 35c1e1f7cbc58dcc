"""Plain values storage hands to the flows (never ORM objects).

Flows read these whatever the backend (SQL or the in-memory fake), so the
same state machines run in benchmarks, tests and production.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class CitizenRecord:
    id: int
    telegram_id: int
    language: str
    last_seen: datetime
    username: str | None = None
    blocked_bot: bool = False
    consented: bool = True


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    purpose: str
    version: str
    given_at: datetime
    withdrawn_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class LabRecord:
    id: int
    slug: str
    title: dict[str, str]
    description: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ServiceRecord:
    id: int
    lab_id: int
    slug: str
    title: dict[str, str]
    description: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NewOpinion:
    citizen_id: int
    service_id: int
    rating: int
    comment: str | None
    media_kind: str | None
    media_file_id: str | None
    language: str
    channel: str
    created_at: datetime


@dataclass(slots=True)
class StateRecord:
    """A conversation's position. ``data`` holds the answers given so far."""

    chat_id: int
    user_id: int
    flow: str = "menu"
    state: str = "idle"
    step: int = 0
    data: dict = field(default_factory=dict)
    is_new: bool = True


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """Someone roles and moderation act on: a citizen and how to address them."""

    citizen_id: int
    telegram_id: int
    language: str
    username: str | None = None
    first_name: str | None = None
    roles: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class AuditRecord:
    actor_telegram_id: int | None
    action: str
    target: str
    reason: str | None
    created_at: datetime
    target_telegram_id: int | None = None
    actor_name: str | None = None
    target_name: str | None = None


@dataclass(frozen=True, slots=True)
class TicketRecord:
    id: int
    status: str
    language: str
    created_at: datetime
    citizen_id: int | None = None
    citizen_telegram_id: int | None = None
    citizen_name: str | None = None
    citizen_username: str | None = None
    assignee_telegram_id: int | None = None
    assignee_name: str | None = None
    opinion_id: int | None = None
    group_chat_id: int | None = None
    topic_id: int | None = None
    group_message_id: int | None = None
    satisfaction: int | None = None
    closed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TicketMessageRecord:
    id: int
    direction: str  # "in": citizen → team; "out": team → citizen
    text: str | None
    media_kind: str | None
    created_at: datetime
    author_telegram_id: int | None = None
