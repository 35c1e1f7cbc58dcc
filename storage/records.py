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
