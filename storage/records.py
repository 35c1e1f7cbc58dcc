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


@dataclass(frozen=True)
class EventStart:
    """What an event starts from: whether its update id is new (a redelivery
    is not), who sent it (None before onboarding) and their conversation."""

    fresh: bool
    citizen: CitizenRecord | None
    state: StateRecord


# Proposals others can see. Pending ones wait for moderation; rejected ones
# are told to their author and raters (with the reason), not listed.
VISIBLE_STATUSES = ("published", "under_study", "accepted", "implemented")


@dataclass(frozen=True, slots=True)
class Ratings:
    """A proposal's ratings: how many gave each score, 1 to 5."""

    distribution: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)

    @property
    def count(self) -> int:
        return sum(self.distribution)

    @property
    def average(self) -> float | None:
        if not self.count:
            return None
        return sum(score * n for score, n in enumerate(self.distribution, start=1)) / self.count


@dataclass(frozen=True, slots=True)
class ProposalRecord:
    id: int
    slug: str
    lab_id: int
    service_id: int | None
    title: dict[str, str]
    description: dict[str, str]
    author_kind: str
    status: str
    answer: dict[str, str]
    ratings: Ratings
    created_at: datetime
    citizen_id: int | None = None


@dataclass(frozen=True, slots=True)
class ProposalPage:
    items: list[ProposalRecord]
    total: int


@dataclass(frozen=True, slots=True)
class NewProposal:
    lab_id: int
    service_id: int | None
    title: str
    description: str
    citizen_id: int
    language: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Recipient:
    """A citizen to tell about something they took part in."""

    citizen_id: int
    telegram_id: int
    language: str


@dataclass(frozen=True, slots=True)
class StatusChange:
    proposal: ProposalRecord
    previous: str
    recipients: list[Recipient]


@dataclass(frozen=True, slots=True)
class PreferencesRecord:
    participation_updates: bool = True
    news: bool = False
    workshop_invitations: bool = False


@dataclass(frozen=True, slots=True)
class ParticipationItem:
    """One line of "My participation": an opinion, a proposal or a rating."""

    kind: str  # "opinion" | "proposal" | "rating"
    number: int  # the opinion's or proposal's id (its reference)
    title: dict[str, str]
    status: str | None
    score: int | None
    at: datetime


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
