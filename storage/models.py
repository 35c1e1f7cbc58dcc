"""The database schema. Alembic migrations are generated from these models.

Content a person reads (lab, service titles...) is a per-language JSON
object ``{"es": "...", "en": "..."}``; :func:`conversations.i18n.pick`
falls back to the default language. One pattern for every later table.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage import catalog_version
from storage.types import BigId, Json, UTCDateTime

# Named constraints let Alembic's batch mode rebuild SQLite tables and drop
# constraints on downgrade; unnamed ones cannot be addressed.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Citizen(Base):
    """A person who talks to the bot. Created only once they consent."""

    __tablename__ = "citizens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    telegram_id: Mapped[int] = mapped_column(BigId, unique=True)
    username: Mapped[str | None] = mapped_column(String(64))
    first_name: Mapped[str | None] = mapped_column(String(128))
    language: Mapped[str] = mapped_column(String(8))
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    blocked_bot: Mapped[bool] = mapped_column(Boolean, default=False,
                                              server_default=text("false"))
    blocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Role(Base):
    __tablename__ = "roles"
    __table_args__ = (
        UniqueConstraint("citizen_id", "role"),
        CheckConstraint("role IN ('moderator', 'staff', 'admin')", name="known_role"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    granted_by: Mapped[int | None] = mapped_column(
        ForeignKey("citizens.id", ondelete="SET NULL"))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Consent(Base):
    """A consent given for one purpose under one version of its text."""

    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_citizen_purpose", "citizen_id", "purpose"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(32))
    text_version: Mapped[str] = mapped_column(String(16))
    given_at: Mapped[datetime] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class NotificationPreferences(Base):
    """What a citizen wants to hear about; the defaults are the server defaults."""

    __tablename__ = "notification_preferences"

    citizen_id: Mapped[int] = mapped_column(
        ForeignKey("citizens.id", ondelete="CASCADE"), primary_key=True
    )
    participation_updates: Mapped[bool] = mapped_column(Boolean, default=True,
                                                        server_default=text("true"))
    news: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    workshop_invitations: Mapped[bool] = mapped_column(Boolean, default=False,
                                                       server_default=text("false"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Lab(Base):
    """A citizen laboratory: one participatory process about a public service."""

    __tablename__ = "labs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[dict[str, str]] = mapped_column(Json)
    description: Mapped[dict[str, str]] = mapped_column(Json, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LabPhase(Base):
    """When a lab takes opinions, proposals, ratings...: dates decide, not flags."""

    __tablename__ = "lab_phases"
    __table_args__ = (
        UniqueConstraint("lab_id", "phase"),
        CheckConstraint(
            "phase IN ('opinions', 'proposals', 'ratings', 'workshops', 'results')",
            name="known_phase",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    lab_id: Mapped[int] = mapped_column(ForeignKey("labs.id", ondelete="CASCADE"))
    phase: Mapped[str] = mapped_column(String(16))
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Service(Base):
    """A public service a lab asks about (phone line, registry offices...)."""

    __tablename__ = "services"
    __table_args__ = (UniqueConstraint("lab_id", "slug"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    lab_id: Mapped[int] = mapped_column(ForeignKey("labs.id", ondelete="CASCADE"), index=True)
    slug: Mapped[str] = mapped_column(String(64))
    title: Mapped[dict[str, str]] = mapped_column(Json)
    description: Mapped[dict[str, str]] = mapped_column(Json, default=dict)
    position: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class CatalogVersion(Base):
    """One row whose number the database moves whenever labs, their phases or
    services change (triggers: :mod:`storage.catalog_version`)."""

    __tablename__ = catalog_version.TABLE

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


# Databases made from the models (tests, benchmarks) get the row and the
# triggers too; a migrated database gets them from 0008_catalog_version.
event.listen(Base.metadata, "after_create", catalog_version.create_with_metadata)


class Opinion(Base):
    """A citizen's rating of a service and why. ``citizen_id`` may be unlinked
    later (erasure keeps the rating in aggregates)."""

    __tablename__ = "opinions"
    __table_args__ = (
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_1_to_5"),
        Index("ix_opinions_service_created", "service_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    citizen_id: Mapped[int | None] = mapped_column(
        ForeignKey("citizens.id", ondelete="SET NULL"), index=True
    )
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="RESTRICT"))
    rating: Mapped[int] = mapped_column(SmallInteger)
    comment: Mapped[str | None] = mapped_column(Text)
    media_kind: Mapped[str | None] = mapped_column(String(16))
    media_file_id: Mapped[str | None] = mapped_column(String(256))
    language: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProcessedUpdate(Base):
    """Updates already handled: a redelivered update stops here.

    Telegram's update ids are not monotonic after a week of silence, so this
    is a "seen recently" set, pruned after Telegram's 24 h retention.
    """

    __tablename__ = "processed_updates"

    update_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ConversationState(Base):
    """Where each (chat, user) is in its journey, saved with the event's writes."""

    __tablename__ = "conversation_states"

    chat_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    flow: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(32))
    step: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    data: Mapped[dict] = mapped_column(Json, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


# held: waiting for something before it may be sent (a ticket's posts wait for
# its forum topic to exist; the topic's hook releases them as pending).
# paused: a row of a paused broadcast, set aside until it is resumed.
OUTBOX_STATUSES = ("pending", "sending", "paused", "sent", "failed", "blocked", "cancelled",
                   "held")
OUTBOX_STATUS_CHECK = "status IN (" + ", ".join(f"'{k}'" for k in OUTBOX_STATUSES) + ")"
# message and copy: a text or a relayed message; topic: createForumTopic (body
# is the name); delete: deleteMessage (target_message_id); commands: a person's
# command menu (body is JSON: language -> commands; empty means delete it);
# edit: editMessageText of an earlier post (target_message_id, body, buttons).
OUTBOX_KINDS = ("message", "copy", "topic", "delete", "commands", "edit")
OUTBOX_KIND_CHECK = "kind IN (" + ", ".join(f"'{k}'" for k in OUTBOX_KINDS) + ")"


class OutboxMessage(Base):
    """A message to someone who did not just write: one durable way out.

    Written in the transaction of the event that caused it; sent by the
    outbox sender under the shared rate limits. ``dedupe_key`` makes a second
    row for the same notification impossible. ``on_sent`` names the hook
    told the Telegram message id once it is sent (e.g. to store a ticket's
    message in the moderators' group). ``broadcast_id`` links a broadcast's
    deliveries, whose counts are read from here; a paused broadcast's rows
    are ``paused`` (never claimed) until resumed.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(OUTBOX_STATUS_CHECK, name="known_status"),
        CheckConstraint(OUTBOX_KIND_CHECK, name="known_kind"),
        Index("ix_outbox_due", "status", "priority", "not_before", "id"),
        # A chat's open rows, in order: the claim's "no earlier open row to
        # this chat" probe. All four columns, so that PostgreSQL picks it even
        # before the table has statistics (a broadcast just queued): with
        # chat_id alone it probed ix_outbox_due instead, seconds per claim.
        Index("ix_outbox_chat", "chat_id", "status", "priority", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    thread_id: Mapped[int | None] = mapped_column(BigInteger)
    citizen_id: Mapped[int | None] = mapped_column(
        ForeignKey("citizens.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="message")
    body: Mapped[str | None] = mapped_column(Text)  # HTML, rendered in the recipient's language
    buttons: Mapped[list | None] = mapped_column(Json)
    copy_from_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    copy_message_id: Mapped[int | None] = mapped_column(BigInteger)
    target_message_id: Mapped[int | None] = mapped_column(BigInteger)
    priority: Mapped[int] = mapped_column(SmallInteger, default=1)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    on_sent: Mapped[str | None] = mapped_column(String(64))
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    # Past this moment the message is pointless (a reminder of a workshop that
    # has started): the sender drops it instead of sending it late.
    not_after: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_message_id: Mapped[int | None] = mapped_column(BigInteger)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    broadcast_id: Mapped[int | None] = mapped_column(
        ForeignKey("broadcasts.id", ondelete="SET NULL"), index=True)


BROADCAST_STATUSES = ("draft", "queued", "paused", "cancelled", "done")


class Broadcast(Base):
    """News or a workshop invitation sent by staff to an audience of citizens.

    ``audience`` is ``{"key": ..., "value": ...}`` (see
    :mod:`storage.broadcasts`); ``bodies`` the HTML per language, as the
    staff member formatted it; ``buttons`` what the message offers
    (``[{"kind": ..., "id": ...}]``), rendered in each recipient's language.
    Delivery counts come from the outbox rows that point here.
    """

    __tablename__ = "broadcasts"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'queued', 'paused', 'cancelled', 'done')",
                        name="known_status"),
        CheckConstraint("kind IN ('news', 'workshop_invitation')", name="known_kind"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(24))
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("citizens.id", ondelete="SET NULL"), index=True)
    audience: Mapped[dict] = mapped_column(Json)
    bodies: Mapped[dict[str, str]] = mapped_column(Json)
    buttons: Mapped[list] = mapped_column(Json, default=list)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    recipients: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ChatMigration(Base):
    """A group that became a supergroup got a new id; messages follow it."""

    __tablename__ = "chat_migrations"

    old_chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    new_chat_id: Mapped[int] = mapped_column(BigInteger)
    migrated_at: Mapped[datetime] = mapped_column(UTCDateTime)


PROPOSAL_STATUSES = ("pending", "published", "under_study", "accepted", "rejected",
                     "implemented")
AUTHOR_KINDS = ("citizen", "staff", "workshop")


class Proposal(Base):
    """A proposal to improve a lab's services, written by a citizen, the staff
    or a workshop. Its reference (``PR-000045``) is its id.

    The rating aggregates (per-score counts, count, sum and ``rank_score``)
    live on the row and change in the transaction of each rating, under the
    row's lock (see :mod:`storage.proposals`): a list page sorted by rank or
    a detail view with the distribution then reads one row per proposal
    instead of aggregating 100,000 ratings, which is what keeps them under
    20 ms. ``rank_score`` is a Bayesian average (see README, "Ranking").
    """

    __tablename__ = "proposals"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'published', 'under_study', 'accepted', "
                        "'rejected', 'implemented')", name="known_status"),
        CheckConstraint("author_kind IN ('citizen', 'staff', 'workshop')",
                        name="known_author_kind"),
        # The list pages: newest or best-rated first, within a lab or one service.
        Index("ix_proposals_lab_newest", "lab_id", "created_at", "id"),
        Index("ix_proposals_lab_rank", "lab_id", "rank_score", "id"),
        Index("ix_proposals_service_newest", "service_id", "created_at", "id"),
        Index("ix_proposals_service_rank", "service_id", "rank_score", "id"),
        # "page m of n" counts the visible ones without reading the rows.
        Index("ix_proposals_lab_status", "lab_id", "status"),
        # The daily limit and "My participation".
        Index("ix_proposals_citizen_created", "citizen_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    lab_id: Mapped[int] = mapped_column(ForeignKey("labs.id", ondelete="RESTRICT"))
    service_id: Mapped[int | None] = mapped_column(
        ForeignKey("services.id", ondelete="SET NULL"))
    title: Mapped[dict[str, str]] = mapped_column(Json)
    description: Mapped[dict[str, str]] = mapped_column(Json)
    author_kind: Mapped[str] = mapped_column(String(16))
    citizen_id: Mapped[int | None] = mapped_column(
        ForeignKey("citizens.id", ondelete="SET NULL"))
    language: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    # The reason for a rejection or the administration's answer, per language.
    answer: Mapped[dict[str, str]] = mapped_column(Json, default=dict)
    rated_1: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    rated_2: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    rated_3: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    rated_4: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    rated_5: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    ratings_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    ratings_sum: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    rank_score: Mapped[float] = mapped_column(Float, default=3.0, server_default=text("3.0"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProposalRating(Base):
    """One citizen's 1-5 rating of a proposal; rating again changes it.

    Erasure unlinks the row (``citizen_id`` NULL): the score stays in the
    aggregates, and NULLs never collide in the unique constraint.
    """

    __tablename__ = "proposal_ratings"
    __table_args__ = (
        UniqueConstraint("proposal_id", "citizen_id"),
        CheckConstraint("score BETWEEN 1 AND 5", name="score_1_to_5"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"))
    citizen_id: Mapped[int | None] = mapped_column(
        ForeignKey("citizens.id", ondelete="SET NULL"), index=True)
    score: Mapped[int] = mapped_column(SmallInteger)
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProposalReview(Base):
    """Where a proposal waiting for moderation was posted in the moderators'
    group, and the bot's question for a rejection's reason (a reply to it is
    the reason). Message ids only; who decided is in the audit log."""

    __tablename__ = "proposal_reviews"
    __table_args__ = (
        Index("ix_proposal_reviews_prompt", "prompt_chat_id", "prompt_message_id"),)

    proposal_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("proposals.id", ondelete="CASCADE"), primary_key=True,
        autoincrement=False)
    group_chat_id: Mapped[int] = mapped_column(BigInteger)
    post_message_id: Mapped[int | None] = mapped_column(BigInteger)
    # Where the question for a reason was asked (the group's id at that time:
    # it changes when the group becomes a supergroup).
    prompt_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    prompt_message_id: Mapped[int | None] = mapped_column(BigInteger)


class AuditEntry(Base):
    """Who did what to whom, when and why: roles, hiding, blocking.

    ``actor_telegram_id`` rather than a citizen link: a bootstrap admin
    (``ADMIN_IDS``) or the command line act without a citizen row.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    actor_telegram_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(64))  # "citizen:123", "OP-000012"...
    target_telegram_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


TICKET_STATUSES = ("open", "assigned", "closed")


class Ticket(Base):
    """A citizen's question to the team, numbered T-000012.

    In the moderators' group it is a forum topic (``topic_id``) or a message
    with buttons (``group_message_id``), in the group ``group_chat_id``.
    """

    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'assigned', 'closed')", name="known_status"),
        CheckConstraint("satisfaction BETWEEN 1 AND 5", name="satisfaction_1_to_5"),
        Index("ix_tickets_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    citizen_id: Mapped[int | None] = mapped_column(
        ForeignKey("citizens.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    assignee_telegram_id: Mapped[int | None] = mapped_column(BigInteger)
    assignee_name: Mapped[str | None] = mapped_column(String(128))
    language: Mapped[str] = mapped_column(String(8))
    opinion_id: Mapped[int | None] = mapped_column(
        ForeignKey("opinions.id", ondelete="SET NULL"))
    group_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    topic_id: Mapped[int | None] = mapped_column(BigInteger)
    group_message_id: Mapped[int | None] = mapped_column(BigInteger)
    satisfaction: Mapped[int | None] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(16))  # citizen | team


class TicketMessage(Base):
    """One message of a ticket's thread, with its Telegram ids on both sides,
    so a reply to any of them in the group finds the ticket (never the
    forward, which hides its sender when the citizen chose so)."""

    __tablename__ = "ticket_messages"
    __table_args__ = (
        CheckConstraint("direction IN ('in', 'out')", name="known_direction"),
        Index("ix_ticket_messages_group", "group_chat_id", "group_message_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"),
                                           index=True)
    direction: Mapped[str] = mapped_column(String(4))  # in: citizen → team; out: team → citizen
    author_telegram_id: Mapped[int | None] = mapped_column(BigInteger)
    text: Mapped[str | None] = mapped_column(Text)
    media_kind: Mapped[str | None] = mapped_column(String(16))
    media_file_id: Mapped[str | None] = mapped_column(String(256))
    citizen_message_id: Mapped[int | None] = mapped_column(BigInteger)
    group_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    group_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ModerationBlock(Base):
    """A citizen whose messages to the team are kept but not relayed."""

    __tablename__ = "moderation_blocks"

    citizen_id: Mapped[int] = mapped_column(
        ForeignKey("citizens.id", ondelete="CASCADE"), primary_key=True)
    blocked_by: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(Text)
    blocked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    told_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class HiddenContent(Base):
    """Something citizens wrote that moderators hid (an opinion's comment, a
    proposal...): one table for every kind, keyed by (kind, item id)."""

    __tablename__ = "hidden_content"
    __table_args__ = (UniqueConstraint("kind", "item_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    item_id: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    hidden_by: Mapped[int | None] = mapped_column(BigInteger)
    hidden_at: Mapped[datetime] = mapped_column(UTCDateTime)


WORKSHOP_STATUSES = ("scheduled", "cancelled")
REGISTRATION_STATUSES = ("confirmed", "waitlisted", "offered", "cancelled", "attended")


class Workshop(Base):
    """A face-to-face (or online) co-creation session of a lab.

    ``taken`` counts the seats confirmed or held for an offer; the database
    keeps it within ``capacity`` (a CHECK and the conditional UPDATE of a
    sign-up), so a workshop can never be overbooked.
    """

    __tablename__ = "workshops"
    __table_args__ = (
        CheckConstraint("status IN ('scheduled', 'cancelled')", name="known_status"),
        CheckConstraint("capacity > 0", name="positive_capacity"),
        CheckConstraint("taken >= 0 AND taken <= capacity", name="taken_within_capacity"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    lab_id: Mapped[int] = mapped_column(ForeignKey("labs.id", ondelete="CASCADE"), index=True)
    title: Mapped[dict[str, str]] = mapped_column(Json)
    description: Mapped[dict[str, str]] = mapped_column(Json, default=dict)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    place: Mapped[str | None] = mapped_column(String(300))
    map_url: Mapped[str | None] = mapped_column(String(500))
    online_url: Mapped[str | None] = mapped_column(String(500))
    capacity: Mapped[int] = mapped_column(Integer)
    taken: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    # Bumped by every change of date or place: reminders queued with the old
    # details are replaced by new ones (their dedupe keys carry it).
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WorkshopQuestion(Base):
    """A question staff ask at sign-up: a choice among options or a short text.
    Answers to a ``sensitive`` one (health, accessibility) are kept apart."""

    __tablename__ = "workshop_questions"
    __table_args__ = (
        CheckConstraint("kind IN ('choice', 'text')", name="known_kind"),
        UniqueConstraint("workshop_id", "position"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshops.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8))
    prompt: Mapped[dict[str, str]] = mapped_column(Json)
    options: Mapped[list | None] = mapped_column(Json)  # [{"es": ..., "en": ...}, ...]
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False,
                                            server_default=text("false"))


class Registration(Base):
    """One citizen's place at one workshop (confirmed, waiting, offered a seat...).

    Unique per workshop and citizen: signing up twice finds the same row. The
    waiting order is ``waiting_since`` then ``id``. ``checkin_token`` is the
    unguessable code behind the QR shown at the door.
    """

    __tablename__ = "registrations"
    __table_args__ = (
        UniqueConstraint("workshop_id", "citizen_id"),
        CheckConstraint("status IN ('confirmed', 'waitlisted', 'offered', 'cancelled', "
                        "'attended')", name="known_status"),
        CheckConstraint("feedback_score IS NULL OR feedback_score BETWEEN 1 AND 5",
                        name="score_1_to_5"),
        Index("ix_registrations_queue", "workshop_id", "status", "waiting_since", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshops.id", ondelete="CASCADE"))
    # Unlinked (NULL) when an attendee is erased: attendance and feedback
    # stay in the lab's totals, without the person.
    citizen_id: Mapped[int | None] = mapped_column(
        ForeignKey("citizens.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    offer_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    checkin_token: Mapped[str] = mapped_column(String(64), unique=True)
    coming_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    feedback_score: Mapped[int | None] = mapped_column(SmallInteger)
    feedback_comment: Mapped[str | None] = mapped_column(Text)


class RegistrationAnswer(Base):
    """An answer to an ordinary sign-up question."""

    __tablename__ = "registration_answers"
    __table_args__ = (UniqueConstraint("registration_id", "question_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    registration_id: Mapped[int] = mapped_column(
        ForeignKey("registrations.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(
        ForeignKey("workshop_questions.id", ondelete="CASCADE"))
    answer: Mapped[str] = mapped_column(Text)


class SensitiveAnswer(Base):
    """An answer to a sensitive question (health, accessibility): its own table,
    left out of exports unless asked for and erased once the workshop is over."""

    __tablename__ = "sensitive_answers"
    __table_args__ = (UniqueConstraint("registration_id", "question_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    registration_id: Mapped[int] = mapped_column(
        ForeignKey("registrations.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(
        ForeignKey("workshop_questions.id", ondelete="CASCADE"))
    answer: Mapped[str] = mapped_column(Text)
