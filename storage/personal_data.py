"""Everything stored about one person: what /mydata hands over and what
/deleteme and the retention purge erase.

Every table is classified here, once: either it holds personal data (and
says how to find a person's rows and what erasure does to them) or it does
not (and says why). ``tests/test_personal_data.py`` fails when a table is
added without being classified, so a new journey cannot forget its data.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import models as m

# Tables that hold nothing about a person, and why.
NOT_PERSONAL: dict[str, str] = {
    "labs": "content written by staff",
    "lab_phases": "content written by staff",
    "services": "content written by staff",
    "catalog_version": "one number that changes with the catalog",
    "processed_updates": "update ids only, pruned after 48 hours",
    "chat_migrations": "ids of groups, not of people",
    "proposal_reviews": "message ids in the moderators' group (who decided is in audit_log)",
    "workshops": "content written by staff",
    "workshop_questions": "content written by staff",
}

# Tables with personal data, in the order they are exported.
PERSONAL: tuple[str, ...] = (
    "citizens", "consents", "notification_preferences", "roles", "opinions",
    "proposals", "proposal_ratings", "conversation_states", "outbox", "tickets",
    "ticket_messages", "moderation_blocks", "audit_log", "hidden_content",
    "broadcasts", "registrations", "registration_answers", "sensitive_answers",
)

# Telegram lets a bot delete its messages in a group for 48 hours only.
GROUP_DELETE_WINDOW = timedelta(hours=48)


@dataclass
class Erasure:
    """What an erasure did, table by table, and what it could not do."""

    counts: dict[str, int] = field(default_factory=dict)
    kept_comments: bool = False
    # Their messages in the moderators' group too old for Telegram to delete.
    kept_in_group: int = 0

    def add(self, table: str, count: int) -> None:
        if count:
            self.counts[table] = self.counts.get(table, 0) + count


def _rows_of(citizen_id: int | None, telegram_id: int) -> dict[str, Any]:
    """Each personal table's rows for this person, as a WHERE clause."""
    by_citizen = citizen_id if citizen_id is not None else -1
    their_tickets = select(m.Ticket.id).where(m.Ticket.citizen_id == by_citizen)
    registrations = select(m.Registration.id).where(m.Registration.citizen_id == by_citizen)
    return {
        "citizens": m.Citizen.telegram_id == telegram_id,
        "consents": m.Consent.citizen_id == by_citizen,
        "notification_preferences": m.NotificationPreferences.citizen_id == by_citizen,
        "roles": m.Role.citizen_id == by_citizen,
        "opinions": m.Opinion.citizen_id == by_citizen,
        "proposals": m.Proposal.citizen_id == by_citizen,
        "proposal_ratings": m.ProposalRating.citizen_id == by_citizen,
        "conversation_states": m.ConversationState.user_id == telegram_id,
        "outbox": or_(m.OutboxMessage.citizen_id == by_citizen,
                      m.OutboxMessage.chat_id == telegram_id,
                      m.OutboxMessage.copy_from_chat_id == telegram_id),
        # Their tickets, and those they handled as a moderator.
        "tickets": or_(m.Ticket.citizen_id == by_citizen,
                       m.Ticket.assignee_telegram_id == telegram_id),
        "ticket_messages": or_(m.TicketMessage.ticket_id.in_(their_tickets),
                               m.TicketMessage.author_telegram_id == telegram_id),
        "moderation_blocks": or_(m.ModerationBlock.citizen_id == by_citizen,
                                 m.ModerationBlock.blocked_by == telegram_id),
        "audit_log": or_(m.AuditEntry.actor_telegram_id == telegram_id,
                         m.AuditEntry.target_telegram_id == telegram_id),
        # What they hid as a moderator, and what was hidden of theirs.
        "hidden_content": or_(m.HiddenContent.hidden_by == telegram_id, and_(
            m.HiddenContent.kind == "opinion", m.HiddenContent.item_id.in_(
                select(m.Opinion.id).where(m.Opinion.citizen_id == by_citizen))), and_(
            m.HiddenContent.kind == "proposal", m.HiddenContent.item_id.in_(
                select(m.Proposal.id).where(m.Proposal.citizen_id == by_citizen)))),
        # Broadcasts a staff member wrote: their authorship is about them.
        "broadcasts": m.Broadcast.created_by == by_citizen,
        "registrations": m.Registration.citizen_id == by_citizen,
        "registration_answers": m.RegistrationAnswer.registration_id.in_(registrations),
        "sensitive_answers": m.SensitiveAnswer.registration_id.in_(registrations),
    }


def _table(name: str) -> Table:
    return m.Base.metadata.tables[name]


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


async def collect(session: AsyncSession, telegram_id: int) -> dict[str, list[dict[str, Any]]]:
    """Every row about this person, table by table, as plain JSON-ready values."""
    citizen_id = (await session.execute(select(m.Citizen.id).where(
        m.Citizen.telegram_id == telegram_id))).scalar_one_or_none()
    where = _rows_of(citizen_id, telegram_id)
    found: dict[str, list[dict[str, Any]]] = {}
    for name in PERSONAL:
        table = _table(name)
        rows = (await session.execute(select(table).where(where[name]))).mappings().all()
        found[name] = [{key: _plain(value) for key, value in row.items()} for row in rows]
    return found


async def erase(session: AsyncSession, telegram_id: int, *, keep_comments: bool,
                now: datetime) -> Erasure:
    """Erase or anonymise everything about this person, in the caller's transaction.

    Ratings (of services and of proposals) stay in the totals, unlinked from
    the person. Comments, voice notes, photos and the texts of their
    proposals go, unless ``keep_comments`` (then they stay, anonymous).
    Queued messages to them are cancelled and their text blanked.
    """
    done = Erasure(kept_comments=keep_comments)
    citizen_id = (await session.execute(select(m.Citizen.id).where(
        m.Citizen.telegram_id == telegram_id))).scalar_one_or_none()
    where = _rows_of(citizen_id, telegram_id)

    opinion_values: dict[str, Any] = {"citizen_id": None}
    if not keep_comments:
        opinion_values.update(comment=None, media_kind=None, media_file_id=None)
    result = await session.execute(update(m.Opinion).where(where["opinions"])
                                   .values(**opinion_values))
    done.add("opinions", result.rowcount or 0)

    # Ratings stay in the proposals' totals (kept on the proposal rows), unlinked;
    # NULLs never collide in the (proposal, citizen) unique constraint.
    result = await session.execute(update(m.ProposalRating).where(where["proposal_ratings"])
                                   .values(citizen_id=None))
    done.add("proposal_ratings", result.rowcount or 0)
    # Their proposals: kept anonymously with the comments, or else the text goes.
    # A pending one nobody has seen goes entirely; a published one keeps its
    # row (others' ratings and the administration's answer hang on it) with
    # its title and text emptied, shown as "deleted by its author".
    await _erase_proposal_posts(session, citizen_id, now, done)
    erased_proposals = 0
    if not keep_comments:
        result = await session.execute(delete(m.Proposal).where(
            where["proposals"], m.Proposal.status == "pending"))
        erased_proposals += result.rowcount or 0
    proposal_values: dict[str, Any] = {"citizen_id": None}
    if not keep_comments:
        proposal_values.update(title={}, description={})
    result = await session.execute(update(m.Proposal).where(where["proposals"])
                                   .values(**proposal_values))
    done.add("proposals", erased_proposals + (result.rowcount or 0))

    result = await session.execute(
        update(m.OutboxMessage).where(where["outbox"])
        .values(status="cancelled", body=None, buttons=None, citizen_id=None,
                last_error="erased at the person's request")
        .where(m.OutboxMessage.status.in_(("pending", "sending", "paused"))))
    done.add("outbox_cancelled", result.rowcount or 0)
    # The rows stay (delivery counts of a broadcast), but say nothing of whom.
    result = await session.execute(
        update(m.OutboxMessage).where(where["outbox"])
        .values(body=None, buttons=None, citizen_id=None, chat_id=0, copy_from_chat_id=None))
    done.add("outbox", result.rowcount or 0)

    await _erase_tickets(session, citizen_id, telegram_id, now, done)
    # The log of what was done stays (accountability), without who it was.
    await session.execute(update(m.AuditEntry).where(
        m.AuditEntry.actor_telegram_id == telegram_id).values(actor_telegram_id=None))
    result = await session.execute(update(m.AuditEntry).where(
        m.AuditEntry.target_telegram_id == telegram_id).values(target_telegram_id=None))
    done.add("audit_log", result.rowcount or 0)
    await session.execute(update(m.HiddenContent).where(
        m.HiddenContent.hidden_by == telegram_id).values(hidden_by=None))
    await session.execute(update(m.ModerationBlock).where(
        m.ModerationBlock.blocked_by == telegram_id).values(blocked_by=None))
    await _erase_registrations(session, where, keep_comments, done)

    if citizen_id is not None:
        # Roles they granted to others stay; only the link to them goes.
        await session.execute(update(m.Role).where(m.Role.granted_by == citizen_id)
                              .values(granted_by=None))
        # Broadcasts they wrote stay (staff content, delivery counts), unsigned.
        result = await session.execute(update(m.Broadcast).where(where["broadcasts"])
                                       .values(created_by=None))
        done.add("broadcasts", result.rowcount or 0)
    for name in ("consents", "notification_preferences", "roles", "conversation_states",
                 "moderation_blocks", "citizens"):
        result = await session.execute(delete(_table(name)).where(where[name]))
        done.add(name, result.rowcount or 0)
    return done


async def _erase_proposal_posts(session: AsyncSession, citizen_id: int | None,
                                now: datetime, done: Erasure) -> None:
    """Their proposals' posts in the moderators' group name them: queued ones are
    cancelled and blanked, sent ones deleted while Telegram allows it (48 hours)."""
    from storage.outbox import NewNotification, SqlOutbox

    if citizen_id is None:
        return
    found = (await session.execute(
        select(m.Proposal.id, m.Proposal.created_at, m.ProposalReview.group_chat_id,
               m.ProposalReview.post_message_id)
        .outerjoin(m.ProposalReview, m.ProposalReview.proposal_id == m.Proposal.id)
        .where(m.Proposal.citizen_id == citizen_id))).all()
    if not found:
        return
    about = or_(*[m.OutboxMessage.dedupe_key.startswith(f"proposal:{row.id}:",
                                                        autoescape=True) for row in found])
    await session.execute(update(m.OutboxMessage).where(
        about, m.OutboxMessage.status.in_(("pending", "sending", "held")))
        .values(status="cancelled", last_error="erased at the person's request"))
    await session.execute(update(m.OutboxMessage).where(about).values(body=None, buttons=None))
    outbox = SqlOutbox(session)
    for row in found:
        if row.post_message_id is None:
            continue
        if now - row.created_at < GROUP_DELETE_WINDOW:
            await outbox.enqueue(NewNotification(
                chat_id=row.group_chat_id, kind="delete", target_message_id=row.post_message_id,
                created_at=now,
                dedupe_key=f"erase:message:{row.group_chat_id}:{row.post_message_id}"))
        else:
            done.kept_in_group += 1


async def _erase_tickets(session: AsyncSession, citizen_id: int | None, telegram_id: int,
                         now: datetime, done: Erasure) -> None:
    """Their tickets: what they wrote is removed here and, where Telegram still
    allows it, in the moderators' group (deletions queued in the outbox: a
    forum topic goes whole, a message only while younger than 48 hours)."""
    from storage.outbox import NewNotification, SqlOutbox

    # As a moderator: the answers stay (the team's words), without their name.
    await session.execute(update(m.Ticket).where(m.Ticket.assignee_telegram_id == telegram_id)
                          .values(assignee_telegram_id=None, assignee_name=None))
    await session.execute(update(m.TicketMessage).where(
        m.TicketMessage.author_telegram_id == telegram_id, m.TicketMessage.direction == "out")
        .values(author_telegram_id=None))
    if citizen_id is None:
        return
    tickets = (await session.execute(select(m.Ticket).where(
        m.Ticket.citizen_id == citizen_id))).scalars().all()
    if not tickets:
        return
    outbox = SqlOutbox(session)
    ids = [t.id for t in tickets]
    in_group = (await session.execute(select(
        m.TicketMessage.group_chat_id, m.TicketMessage.group_message_id,
        m.TicketMessage.created_at, m.TicketMessage.ticket_id).where(
        m.TicketMessage.ticket_id.in_(ids), m.TicketMessage.direction == "in",
        m.TicketMessage.group_message_id.is_not(None)))
    ).all()
    posts = [(t.group_chat_id, t.group_message_id, t.created_at, t.id) for t in tickets
             if t.group_message_id is not None]
    with_topic = {t.id for t in tickets if t.topic_id is not None}
    for t in tickets:
        if t.topic_id is not None and t.group_chat_id is not None:
            await outbox.enqueue(NewNotification(
                chat_id=t.group_chat_id, thread_id=t.topic_id, kind="delete", created_at=now,
                dedupe_key=f"erase:topic:{t.group_chat_id}:{t.topic_id}"))
    for chat_id, message_id, created_at, ticket_id in [*posts, *in_group]:
        if ticket_id in with_topic or chat_id is None:
            continue
        if now - created_at < GROUP_DELETE_WINDOW:
            await outbox.enqueue(NewNotification(
                chat_id=chat_id, kind="delete", target_message_id=message_id, created_at=now,
                dedupe_key=f"erase:message:{chat_id}:{message_id}"))
        else:
            done.kept_in_group += 1
    # Queued posts about their tickets: cancelled if not sent, and blanked.
    about = or_(*[m.OutboxMessage.dedupe_key.startswith(f"ticket:{i}:", autoescape=True)
                  for i in ids], *[m.OutboxMessage.dedupe_key == f"topic:{i}" for i in ids])
    await session.execute(update(m.OutboxMessage).where(
        about, m.OutboxMessage.status.in_(("pending", "sending", "held")))
        .values(status="cancelled", last_error="erased at the person's request"))
    await session.execute(update(m.OutboxMessage).where(about)
                          .values(body=None, buttons=None, copy_from_chat_id=None))
    result = await session.execute(update(m.TicketMessage).where(
        m.TicketMessage.ticket_id.in_(ids)).values(
        text=None, media_kind=None, media_file_id=None, citizen_message_id=None,
        author_telegram_id=None))
    done.add("ticket_messages", result.rowcount or 0)
    result = await session.execute(update(m.Ticket).where(m.Ticket.id.in_(ids)).values(
        citizen_id=None))
    done.add("tickets", result.rowcount or 0)


async def _erase_registrations(session: AsyncSession, where: dict[str, Any],
                               keep_comments: bool, done: Erasure) -> None:
    """Workshop sign-ups: answers deleted; seats they held freed (the waiting
    list is offered them by the workshop job); attendance and feedback stay in
    the totals, unlinked (the comment only if they keep their comments)."""
    registration = m.Registration
    for name in ("sensitive_answers", "registration_answers"):
        result = await session.execute(delete(_table(name)).where(where[name]))
        done.add(name, result.rowcount or 0)
    held = (await session.execute(
        select(registration.workshop_id).where(
            where["registrations"], registration.status.in_(("confirmed", "offered"))))
    ).scalars().all()
    for workshop_id in held:
        await session.execute(
            update(m.Workshop).where(m.Workshop.id == workshop_id, m.Workshop.taken > 0)
            .values(taken=m.Workshop.taken - 1))
    attended: dict[str, Any] = {"citizen_id": None, "checkin_token": secrets.token_urlsafe(24),
                                "coming_confirmed_at": None}
    if not keep_comments:
        attended["feedback_comment"] = None
    kept = (await session.execute(
        select(registration.id).where(where["registrations"],
                                      registration.status == "attended"))).scalars().all()
    for registration_id in kept:
        # A fresh token each: the column is unique.
        attended["checkin_token"] = secrets.token_urlsafe(24)
        await session.execute(update(registration).where(registration.id == registration_id)
                              .values(**attended))
    result = await session.execute(delete(registration).where(
        where["registrations"], registration.status != "attended"))
    done.add("registrations", (result.rowcount or 0) + len(kept))


async def inactive_since(session: AsyncSession, before: datetime) -> list[int]:
    """Telegram ids of people with no activity since ``before`` (citizens, and
    conversations of people who never consented)."""
    citizens = (await session.execute(select(m.Citizen.telegram_id).where(
        m.Citizen.last_seen < before))).scalars().all()
    strangers = (await session.execute(
        select(m.ConversationState.user_id).where(
            m.ConversationState.updated_at < before,
            m.ConversationState.user_id.not_in(select(m.Citizen.telegram_id))))).scalars().all()
    return sorted(set(citizens) | set(strangers))


@dataclass
class Purge:
    people: int = 0
    counts: dict[str, int] = field(default_factory=dict)


async def purge_inactive(sessions, now: datetime, retention_days: int, *,  # type: ignore[no-untyped-def]
                         dry_run: bool = False) -> Purge:
    """Erase people inactive for ``retention_days`` (comments too), one transaction each,
    so a failure part-way keeps what was done."""
    async with sessions() as session:
        people = await inactive_since(session, now - timedelta(days=retention_days))
    report = Purge(people=len(people))
    if dry_run:
        return report
    for telegram_id in people:
        async with sessions() as session:
            erased = await erase(session, telegram_id, keep_comments=False, now=now)
            await session.commit()
        for table, count in erased.counts.items():
            report.counts[table] = report.counts.get(table, 0) + count
    return report
