"""Storage for the staff side: roles, the audit log, tickets, blocks, hidden
content, and where the moderators' group lives now (after a migration).

SQL-only (see the in-memory unit of work's docstring): claiming a ticket,
closing it and rating it are conditional UPDATEs, so two moderators pressing
"I'll take it" at once, or a citizen tapping a score twice, cannot both win.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage import models as m
from storage.records import AuditRecord, PersonRecord, TicketMessageRecord, TicketRecord
from storage.upsert import insert_for


class SqlStaff:
    """Roles granted to people, and finding the person a command names."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _person(self, where) -> PersonRecord | None:  # type: ignore[no-untyped-def]
        row = (await self.session.execute(select(m.Citizen).where(where))).scalars().first()
        if row is None:
            return None
        roles = frozenset((await self.session.execute(
            select(m.Role.role).where(m.Role.citizen_id == row.id))).scalars())
        return PersonRecord(row.id, row.telegram_id, row.language, row.username,
                            row.first_name, roles)

    async def by_telegram_id(self, telegram_id: int) -> PersonRecord | None:
        return await self._person(m.Citizen.telegram_id == telegram_id)

    async def by_username(self, username: str) -> PersonRecord | None:
        """Usernames are case-insensitive on Telegram; only ones the bot has seen."""
        return await self._person(func.lower(m.Citizen.username) == username.lower())

    async def by_citizen_id(self, citizen_id: int) -> PersonRecord | None:
        return await self._person(m.Citizen.id == citizen_id)

    async def grant(self, citizen_id: int, role: str, granted_by: int | None,
                    now: datetime) -> bool:
        """True when the role is new (granting it twice changes nothing)."""
        granter = select(m.Citizen.id).where(m.Citizen.telegram_id == granted_by) \
            .scalar_subquery() if granted_by is not None else None
        result = await self.session.execute(
            insert_for(self.session, m.Role).values(
                citizen_id=citizen_id, role=role, granted_by=granter, granted_at=now)
            .on_conflict_do_nothing(index_elements=["citizen_id", "role"]))
        return result.rowcount == 1

    async def revoke(self, citizen_id: int, role: str) -> bool:
        result = await self.session.execute(
            delete(m.Role).where(m.Role.citizen_id == citizen_id, m.Role.role == role))
        return (result.rowcount or 0) > 0

    async def holders(self) -> list[PersonRecord]:
        """Everyone holding a role, by name."""
        rows = (await self.session.execute(
            select(m.Citizen, m.Role.role).join(m.Role, m.Role.citizen_id == m.Citizen.id)
            .order_by(m.Citizen.first_name, m.Citizen.id))).all()
        people: dict[int, PersonRecord] = {}
        for citizen, role in rows:
            found = people.get(citizen.id)
            held = (found.roles if found else frozenset()) | {role}
            people[citizen.id] = PersonRecord(citizen.id, citizen.telegram_id, citizen.language,
                                              citizen.username, citizen.first_name, held)
        return list(people.values())


class SqlAudit:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, actor: int | None, action: str, target: str, now: datetime, *,
                     target_telegram_id: int | None = None, reason: str | None = None) -> None:
        self.session.add(m.AuditEntry(actor_telegram_id=actor, action=action, target=target,
                                      target_telegram_id=target_telegram_id, reason=reason,
                                      created_at=now))

    async def latest(self, offset: int, limit: int) -> tuple[list[AuditRecord], int]:
        """Newest first, with the names of those involved while they are citizens."""
        total = (await self.session.execute(
            select(func.count()).select_from(m.AuditEntry))).scalar_one()
        actor, target = aliased(m.Citizen), aliased(m.Citizen)
        rows = await self.session.execute(
            select(m.AuditEntry.actor_telegram_id, m.AuditEntry.action, m.AuditEntry.target,
                   m.AuditEntry.reason, m.AuditEntry.created_at,
                   m.AuditEntry.target_telegram_id, actor.first_name, target.first_name)
            .outerjoin(actor, actor.telegram_id == m.AuditEntry.actor_telegram_id)
            .outerjoin(target, target.telegram_id == m.AuditEntry.target_telegram_id)
            .order_by(m.AuditEntry.created_at.desc(), m.AuditEntry.id.desc())
            .offset(offset).limit(limit))
        return [AuditRecord(*row) for row in rows], total


def _ticket_query():  # type: ignore[no-untyped-def]
    return (select(m.Ticket, m.Citizen.telegram_id, m.Citizen.first_name, m.Citizen.username)
            .outerjoin(m.Citizen, m.Citizen.id == m.Ticket.citizen_id))


def _ticket(row) -> TicketRecord:  # type: ignore[no-untyped-def]
    t, telegram_id, name, username = row
    return TicketRecord(t.id, t.status, t.language, t.created_at, t.citizen_id, telegram_id,
                        name, username, t.assignee_telegram_id, t.assignee_name, t.opinion_id,
                        t.group_chat_id, t.topic_id, t.group_message_id, t.satisfaction,
                        t.closed_at)


class SqlTickets:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def open(self, citizen_id: int, language: str, now: datetime, *,
                   opinion_id: int | None = None) -> int:
        row = m.Ticket(citizen_id=citizen_id, status="open", language=language,
                       opinion_id=opinion_id, created_at=now)
        self.session.add(row)
        await self.session.flush()
        return row.id

    async def add_message(self, ticket_id: int, direction: str, author: int | None,
                          text: str | None, now: datetime, *, media_kind: str | None = None,
                          media_file_id: str | None = None,
                          citizen_message_id: int | None = None,
                          group_chat_id: int | None = None,
                          group_message_id: int | None = None) -> int:
        row = m.TicketMessage(ticket_id=ticket_id, direction=direction,
                              author_telegram_id=author, text=text, media_kind=media_kind,
                              media_file_id=media_file_id,
                              citizen_message_id=citizen_message_id,
                              group_chat_id=group_chat_id, group_message_id=group_message_id,
                              created_at=now)
        self.session.add(row)
        await self.session.flush()
        return row.id

    async def get(self, ticket_id: int) -> TicketRecord | None:
        row = (await self.session.execute(
            _ticket_query().where(m.Ticket.id == ticket_id))).first()
        return _ticket(row) if row else None

    async def by_group_message(self, chat_id: int, message_id: int) -> TicketRecord | None:
        """The ticket whose message in the group this is (its post or any relay)."""
        ticket_id = (await self.session.execute(
            select(m.Ticket.id).where(m.Ticket.group_chat_id == chat_id,
                                      m.Ticket.group_message_id == message_id)
            .union(select(m.TicketMessage.ticket_id).where(
                m.TicketMessage.group_chat_id == chat_id,
                m.TicketMessage.group_message_id == message_id))
        )).scalars().first()
        return await self.get(ticket_id) if ticket_id is not None else None

    async def by_topic(self, chat_id: int, topic_id: int) -> TicketRecord | None:
        row = (await self.session.execute(_ticket_query().where(
            m.Ticket.group_chat_id == chat_id, m.Ticket.topic_id == topic_id))).first()
        return _ticket(row) if row else None

    async def claim(self, ticket_id: int, telegram_id: int, name: str) -> TicketRecord | None:
        """Assign the ticket to this moderator unless someone else has it (or it is
        closed); the ticket as it is afterwards, or None when it does not exist."""
        await self.session.execute(
            update(m.Ticket).where(
                m.Ticket.id == ticket_id, m.Ticket.status == "open")
            .values(status="assigned", assignee_telegram_id=telegram_id, assignee_name=name)
            .execution_options(synchronize_session=False))
        return await self.get(ticket_id)

    async def close(self, ticket_id: int, by: str, now: datetime) -> bool:
        """True for the one call that closed it."""
        result = await self.session.execute(
            update(m.Ticket).where(m.Ticket.id == ticket_id, m.Ticket.status != "closed")
            .values(status="closed", closed_at=now, closed_by=by)
            .execution_options(synchronize_session=False))
        return (result.rowcount or 0) > 0

    async def rate(self, ticket_id: int, citizen_id: int, score: int) -> bool:
        """Store the satisfaction score once, for the ticket's own citizen."""
        result = await self.session.execute(
            update(m.Ticket).where(m.Ticket.id == ticket_id, m.Ticket.citizen_id == citizen_id,
                                   m.Ticket.status == "closed",
                                   m.Ticket.satisfaction.is_(None))
            .values(satisfaction=score).execution_options(synchronize_session=False))
        return (result.rowcount or 0) > 0

    async def placed(self, ticket_id: int, chat_id: int) -> None:
        """The group the ticket is posted to (its id after any migration)."""
        await self.session.execute(update(m.Ticket).where(m.Ticket.id == ticket_id)
                                   .values(group_chat_id=chat_id))

    async def set_topic(self, ticket_id: int, topic_id: int) -> bool:
        """True for the first topic recorded; a second one (a topic created twice
        after a crash) is ignored."""
        result = await self.session.execute(
            update(m.Ticket).where(m.Ticket.id == ticket_id, m.Ticket.topic_id.is_(None))
            .values(topic_id=topic_id).execution_options(synchronize_session=False))
        return (result.rowcount or 0) > 0

    async def set_group_message(self, ticket_id: int, message_id: int) -> None:
        await self.session.execute(update(m.Ticket).where(m.Ticket.id == ticket_id)
                                   .values(group_message_id=message_id))

    async def set_relayed(self, ticket_message_id: int, group_message_id: int) -> None:
        """A message of the thread reached the group with this id (replies find it)."""
        await self.session.execute(
            update(m.TicketMessage).where(m.TicketMessage.id == ticket_message_id)
            .values(group_message_id=group_message_id))

    async def answered_since(self, citizen_id: int, since: datetime) -> TicketRecord | None:
        """The citizen's open ticket the team answered most recently, if that
        answer came after ``since`` (free text typed right after it belongs there)."""
        last_answer = func.max(m.TicketMessage.created_at)
        found = (await self.session.execute(
            select(m.TicketMessage.ticket_id)
            .join(m.Ticket, m.Ticket.id == m.TicketMessage.ticket_id)
            .where(m.Ticket.citizen_id == citizen_id, m.Ticket.status != "closed",
                   m.TicketMessage.direction == "out", m.TicketMessage.created_at >= since)
            .group_by(m.TicketMessage.ticket_id)
            .order_by(last_answer.desc(), m.TicketMessage.ticket_id.desc()).limit(1))
        ).scalar_one_or_none()
        return await self.get(found) if found is not None else None

    async def unfinished(self, offset: int, limit: int) -> tuple[list[TicketRecord], int]:
        """Open and assigned tickets, oldest first."""
        where = m.Ticket.status != "closed"
        total = (await self.session.execute(
            select(func.count()).select_from(m.Ticket).where(where))).scalar_one()
        rows = (await self.session.execute(
            _ticket_query().where(where).order_by(m.Ticket.created_at, m.Ticket.id)
            .offset(offset).limit(limit))).all()
        return [_ticket(r) for r in rows], total

    async def thread(self, ticket_id: int) -> list[TicketMessageRecord]:
        rows = await self.session.execute(
            select(m.TicketMessage.id, m.TicketMessage.direction, m.TicketMessage.text,
                   m.TicketMessage.media_kind, m.TicketMessage.created_at,
                   m.TicketMessage.author_telegram_id)
            .where(m.TicketMessage.ticket_id == ticket_id)
            .order_by(m.TicketMessage.created_at, m.TicketMessage.id))
        return [TicketMessageRecord(*row) for row in rows]

    async def opinions_without_ticket(self, since: datetime, until: datetime
                                      ) -> list[tuple[int, int, str | None, str | None, dict]]:
        """(opinion id, rating, comment, media kind, service title) of the opinions
        given in [since, until) that did not ask for an answer and are not hidden."""
        ticketed = select(m.Ticket.opinion_id).where(m.Ticket.opinion_id.is_not(None))
        hidden = select(m.HiddenContent.item_id).where(m.HiddenContent.kind == "opinion")
        rows = await self.session.execute(
            select(m.Opinion.id, m.Opinion.rating, m.Opinion.comment, m.Opinion.media_kind,
                   m.Service.title)
            .join(m.Service, m.Service.id == m.Opinion.service_id)
            .where(m.Opinion.created_at >= since, m.Opinion.created_at < until,
                   m.Opinion.id.not_in(ticketed), m.Opinion.id.not_in(hidden))
            .order_by(m.Opinion.id))
        return [tuple(row) for row in rows]  # type: ignore[misc]


class SqlModeration:
    """Blocks (messages kept, not relayed) and hidden content."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def block(self, citizen_id: int, by: int | None, reason: str | None,
                    now: datetime) -> bool:
        result = await self.session.execute(
            insert_for(self.session, m.ModerationBlock).values(
                citizen_id=citizen_id, blocked_by=by, reason=reason, blocked_at=now)
            .on_conflict_do_nothing(index_elements=["citizen_id"]))
        return result.rowcount == 1

    async def unblock(self, citizen_id: int) -> bool:
        result = await self.session.execute(
            delete(m.ModerationBlock).where(m.ModerationBlock.citizen_id == citizen_id))
        return (result.rowcount or 0) > 0

    async def is_blocked(self, citizen_id: int) -> bool:
        return (await self.session.execute(select(m.ModerationBlock.citizen_id).where(
            m.ModerationBlock.citizen_id == citizen_id))).first() is not None

    async def tell_once(self, citizen_id: int, now: datetime) -> bool:
        """True the first time a blocked citizen is to be told (then never again)."""
        result = await self.session.execute(
            update(m.ModerationBlock).where(m.ModerationBlock.citizen_id == citizen_id,
                                            m.ModerationBlock.told_at.is_(None))
            .values(told_at=now).execution_options(synchronize_session=False))
        return (result.rowcount or 0) > 0

    async def hide(self, kind: str, item_id: int, reason: str, by: int | None,
                   now: datetime) -> bool:
        result = await self.session.execute(
            insert_for(self.session, m.HiddenContent).values(
                kind=kind, item_id=item_id, reason=reason, hidden_by=by, hidden_at=now)
            .on_conflict_do_nothing(index_elements=["kind", "item_id"]))
        return result.rowcount == 1

    async def opinion_author(self, opinion_id: int) -> PersonRecord | bool | None:
        """The author of an opinion with a comment: a person, None when it has no
        author any more (erased), False when there is no such opinion or comment."""
        row = (await self.session.execute(
            select(m.Opinion.citizen_id, m.Opinion.comment, m.Opinion.media_kind)
            .where(m.Opinion.id == opinion_id))).first()
        if row is None or (row.comment is None and row.media_kind is None):
            return False
        if row.citizen_id is None:
            return None
        return await SqlStaff(self.session).by_citizen_id(row.citizen_id)


class SqlChats:
    """Groups that became supergroups: the id to use now."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def current_id(self, chat_id: int) -> int:
        """Follow recorded migrations (a chain, in case it moved twice)."""
        seen = {chat_id}
        while True:
            moved = (await self.session.execute(select(m.ChatMigration.new_chat_id).where(
                m.ChatMigration.old_chat_id == chat_id))).scalar_one_or_none()
            if moved is None or moved in seen:
                return chat_id
            seen.add(moved)
            chat_id = moved

    async def migrated(self, old_chat_id: int, new_chat_id: int, now: datetime) -> None:
        """Record the new id; what is still queued for the old one goes there."""
        await self.session.execute(insert_for(self.session, m.ChatMigration).values(
            old_chat_id=old_chat_id, new_chat_id=new_chat_id, migrated_at=now,
        ).on_conflict_do_nothing(index_elements=["old_chat_id"]))
        await self.session.execute(
            update(m.OutboxMessage)
            .where(m.OutboxMessage.chat_id == old_chat_id,
                   m.OutboxMessage.status.in_(("pending", "held")))
            .values(chat_id=new_chat_id).execution_options(synchronize_session=False))
        # Tickets keep the old id: their messages there keep their old ids, and a
        # reply to one in the new supergroup has a new id the bot cannot match
        # (/reply T-12 still works; new posts go to the new id).
