"""The SQL implementation of the unit of work and its repositories."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Self, TypeVar

from sqlalchemy import and_, bindparam, func, insert, literal_column, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Row
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session
from sqlalchemy.sql.base import Executable

from storage import catalog_cache, personal_data
from storage import models as m
from storage.broadcasts import SqlBroadcasts
from storage.moderation import SqlAudit, SqlChats, SqlModeration, SqlStaff, SqlTickets
from storage.outbox import SqlOutbox
from storage.proposal_reviews import SqlProposalReviews
from storage.proposals import SqlProposals
from storage.records import (
    CitizenRecord,
    ConsentRecord,
    EventStart,
    LabRecord,
    NewOpinion,
    PreferencesRecord,
    ServiceRecord,
    StateRecord,
)
from storage.stats import SqlStats
from storage.upsert import insert_for
from storage.workshops import SqlWorkshops

T = TypeVar("T")

# The statements every event runs, built once per dialect and executed on the
# session's connection (Core, no ORM layer). Profiling bench/throughput.py
# showed SQLAlchemy's own work (building each statement, its cache key, the
# ORM execution path) as the largest share of the CPU per update, larger than
# the database and the framework.
_DIALECTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
_SEEN = {name: insert(m.ProcessedUpdate.__table__)
         .values(update_id=bindparam("update_id"), seen_at=bindparam("seen_at"))
         .on_conflict_do_nothing(index_elements=["update_id"])
         for name, insert in _DIALECTS.items()}
_STATE_COLUMNS = ("flow", "state", "step", "data", "updated_at")
_SAVE_STATE = {name: (lambda stmt: stmt.on_conflict_do_update(
                   index_elements=["chat_id", "user_id"],
                   set_={c: stmt.excluded[c] for c in _STATE_COLUMNS}))(
               insert(m.ConversationState.__table__))
               for name, insert in _DIALECTS.items()}
_states = m.ConversationState.__table__
_LOAD_STATE = select(_states.c.flow, _states.c.state, _states.c.step, _states.c.data).where(
    _states.c.chat_id == bindparam("chat_id"), _states.c.user_id == bindparam("user_id"))


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind else "sqlite"


class Link:
    """The unit of work's connection, for the Core statements of every event.

    Each call here is one hop into SQLAlchemy's greenlet (``run_sync``) that
    does all its work on the session's connection: ``session.connection()``
    and ``execute()`` awaited one after the other were a hop each, plus the
    ORM session's bookkeeping, which bench/engine.py under cProfile showed as
    a sixth of an event's CPU for statements that need none of it.

    A write nothing reads back before the commit (the conversation's state,
    the person's last-seen time) can be *deferred*: it runs at the start of
    the link's next hop, or in the commit's own hop, in the order it was
    deferred. A button press is then two hops (start, save and commit) and
    the session's close, where it was six. The session still owns the
    transaction; statements run through the session itself (the ORM
    repositories) do not see a deferred write, and none of them reads what
    is deferred.
    """

    def __init__(self, session: AsyncSession,
                 catalog: catalog_cache.CatalogCache | None = None) -> None:
        self.session = session
        self.dialect = _dialect(session)
        self.catalog = catalog or catalog_cache.CatalogCache()
        # Read by start_event; None (the row is missing, or no event started
        # this unit of work) means the catalog is read from its tables.
        self.catalog_version: int | None = None
        self._deferred: list[tuple[Executable, dict[str, Any]]] = []

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """``work(connection, *args)`` on the transaction's connection, in one
        hop, after the deferred writes."""
        deferred, self._deferred = self._deferred, []
        return await self.session.run_sync(_on_connection, deferred, work, *args)

    async def execute(self, statement: Executable, params: dict[str, Any]) -> None:
        await self.run(_execute, statement, params)

    async def first(self, statement: Executable, params: dict[str, Any]) -> Row | None:
        return await self.run(_first, statement, params)

    async def scalar_one(self, statement: Executable, params: dict[str, Any]) -> Any:
        return await self.run(_scalar_one, statement, params)

    def defer(self, statement: Executable, params: dict[str, Any]) -> None:
        self._deferred.append((statement, params))

    async def commit(self) -> None:
        """The deferred writes and the commit, in one hop."""
        deferred, self._deferred = self._deferred, []
        await self.session.run_sync(_commit, deferred)

    def forget_deferred(self) -> None:
        self._deferred.clear()


def _with_deferred(session: Session,
                   deferred: list[tuple[Executable, dict[str, Any]]]) -> Connection:
    """The transaction's connection, once the deferred writes ran on it."""
    connection = session.connection()
    for statement, params in deferred:
        connection.execute(statement, params)
    return connection


def _on_connection(session: Session, deferred: list[tuple[Executable, dict[str, Any]]],
                   work: Callable[..., T], *args: Any) -> T:
    return work(_with_deferred(session, deferred), *args)


def _commit(session: Session, deferred: list[tuple[Executable, dict[str, Any]]]) -> None:
    if deferred:
        _with_deferred(session, deferred)
    session.commit()


def _execute(connection: Connection, statement: Executable, params: dict[str, Any]) -> None:
    connection.execute(statement, params)


def _first(connection: Connection, statement: Executable, params: dict[str, Any]) -> Row | None:
    return connection.execute(statement, params).first()


def _scalar_one(connection: Connection, statement: Executable, params: dict[str, Any]) -> Any:
    return connection.execute(statement, params).scalar_one()


def _rowcount(connection: Connection, statement: Executable, params: dict[str, Any]) -> int:
    return connection.execute(statement, params).rowcount


class SqlUpdates:
    def __init__(self, link: Link) -> None:
        self.link = link

    async def mark_seen(self, update_id: int, now: datetime) -> bool:
        return await self.link.run(_rowcount, _SEEN[self.link.dialect],
                                   {"update_id": update_id, "seen_at": now}) == 1


class SqlConversations:
    def __init__(self, link: Link) -> None:
        self.link = link

    async def load(self, chat_id: int, user_id: int) -> StateRecord:
        row = await self.link.first(_LOAD_STATE, {"chat_id": chat_id, "user_id": user_id})
        if row is None:
            return StateRecord(chat_id=chat_id, user_id=user_id)
        return StateRecord(chat_id, user_id, row.flow, row.state, row.step,
                           dict(row.data or {}), is_new=False)

    async def save(self, state: StateRecord, now: datetime) -> None:
        # Deferred to the commit's hop (see Link): the engine saves last.
        self.link.defer(_SAVE_STATE[self.link.dialect], {
            "chat_id": state.chat_id, "user_id": state.user_id, "flow": state.flow,
            "state": state.state, "step": state.step, "data": dict(state.data),
            "updated_at": now})


PRIVACY = "privacy"


def _has_privacy_consent():  # type: ignore[no-untyped-def]
    return (select(m.Consent.id).where(
        m.Consent.citizen_id == m.Citizen.id, m.Consent.purpose == PRIVACY,
        m.Consent.withdrawn_at.is_(None)).exists())


_citizens = m.Citizen.__table__
# Every event looks its person up: columns, not an ORM object (see _SEEN).
_CITIZEN = select(_citizens.c.id, _citizens.c.telegram_id, _citizens.c.language,
                  _citizens.c.last_seen, _citizens.c.username, _citizens.c.blocked_bot,
                  _has_privacy_consent()).where(
    _citizens.c.telegram_id == bindparam("telegram_id"))


_one = select(literal_column("1").label("one")).subquery("one")
# The person and their conversation in one statement (either may be missing):
# each outer-joined to a single row, so the answer is always one row. The
# catalog's version rides along (see storage/catalog_cache.py).
_versions = m.CatalogVersion.__table__
_CATALOG_VERSION = select(_versions.c.version).where(_versions.c.id == 1).scalar_subquery()
_CITIZEN_AND_STATE = (
    select(*_CITIZEN.selected_columns, _states.c.flow, _states.c.state, _states.c.step,
           _states.c.data, _CATALOG_VERSION.label("catalog_version"))
    .select_from(_one.outerjoin(_citizens, _citizens.c.telegram_id == bindparam("telegram_id"))
                 .outerjoin(_states, and_(_states.c.chat_id == bindparam("chat_id"),
                                          _states.c.user_id == bindparam("telegram_id")))))
# On PostgreSQL the update id is recorded in the same statement, as a
# data-modifying CTE: one round trip where there were three. (SQLite has no
# INSERT in a WITH clause: there it stays a statement of its own.)
_seen_cte = (postgresql.insert(m.ProcessedUpdate.__table__)
             .values(update_id=bindparam("update_id"), seen_at=bindparam("seen_at"))
             .on_conflict_do_nothing(index_elements=["update_id"])
             .returning(m.ProcessedUpdate.__table__.c.update_id).cte("seen"))
_SEEN_CITIZEN_AND_STATE = _CITIZEN_AND_STATE.add_columns(
    select(func.count()).select_from(_seen_cte).scalar_subquery().label("fresh"))


_NEW_CITIZEN = insert(_citizens).returning(_citizens.c.id)
_NEW_PREFERENCES = insert(m.NotificationPreferences.__table__)
_NEW_CONSENT = insert(m.Consent.__table__)
_NEW_OPINION = insert(m.Opinion.__table__).returning(m.Opinion.__table__.c.id)


class SqlCitizens:
    def __init__(self, link: Link) -> None:
        self.link = link
        self.session = link.session

    async def by_telegram_id(self, telegram_id: int) -> CitizenRecord | None:
        found = await self.link.first(_CITIZEN, {"telegram_id": telegram_id})
        return CitizenRecord(*found[:-1], consented=bool(found[-1])) if found else None

    async def register(self, telegram_id: int, username: str | None, first_name: str | None,
                       language: str, now: datetime) -> CitizenRecord:
        existing = await self.by_telegram_id(telegram_id)
        if existing:
            return existing
        # Core inserts, here and for opinions and consents: the ORM's flush
        # (its unit of work sorting one new object) cost more CPU than the
        # statements themselves in bench/throughput.py.
        citizen_id = await self.link.run(_new_citizen, {
            "telegram_id": telegram_id, "username": username, "first_name": first_name,
            "language": language, "first_seen": now, "last_seen": now,
            "blocked_bot": False})
        return CitizenRecord(citizen_id, telegram_id, language, now, username, False,
                             consented=False)

    async def seen(self, citizen: CitizenRecord, username: str | None, now: datetime) -> None:
        values: dict = {"last_seen": now}
        if username != citizen.username:
            values["username"] = username
        if citizen.blocked_bot:
            # Writing to the bot again means they unblocked it.
            values.update(blocked_bot=False, blocked_at=None)
        # Deferred to the commit's hop (see Link): nothing reads it back.
        self.link.defer(update(_citizens).where(_citizens.c.id == citizen.id), values)

    async def set_language(self, citizen_id: int, language: str) -> None:
        await self.session.execute(
            update(m.Citizen).where(m.Citizen.id == citizen_id).values(language=language)
        )

    async def set_blocked(self, telegram_id: int, blocked: bool, now: datetime) -> None:
        await self.session.execute(
            update(m.Citizen).where(m.Citizen.telegram_id == telegram_id)
            .values(blocked_bot=blocked, blocked_at=now if blocked else None)
        )

    async def give_consent(self, citizen_id: int, purpose: str, version: str,
                           now: datetime) -> None:
        await self.link.execute(_NEW_CONSENT, {
            "citizen_id": citizen_id, "purpose": purpose, "text_version": version,
            "given_at": now})

    async def has_consent(self, citizen_id: int, purpose: str) -> bool:
        found = (await self.session.execute(
            select(m.Consent.id).where(
                m.Consent.citizen_id == citizen_id, m.Consent.purpose == purpose,
                m.Consent.withdrawn_at.is_(None),
            ).limit(1)
        )).first()
        return found is not None

    async def consents(self, citizen_id: int) -> list[ConsentRecord]:
        rows = await self.session.execute(
            select(m.Consent.purpose, m.Consent.text_version, m.Consent.given_at,
                   m.Consent.withdrawn_at)
            .where(m.Consent.citizen_id == citizen_id).order_by(m.Consent.given_at))
        return [ConsentRecord(*row) for row in rows]

    async def withdraw_consent(self, citizen_id: int, purpose: str, now: datetime) -> None:
        await self.session.execute(
            update(m.Consent).where(
                m.Consent.citizen_id == citizen_id, m.Consent.purpose == purpose,
                m.Consent.withdrawn_at.is_(None),
            ).values(withdrawn_at=now)
        )

    async def roles(self, citizen_id: int) -> frozenset[str]:
        rows = await self.session.execute(
            select(m.Role.role).where(m.Role.citizen_id == citizen_id))
        return frozenset(rows.scalars())


class SqlCatalog:
    """Labs and services, read from the process's snapshot of the catalog
    (:mod:`storage.catalog_cache`) while its version is the one this event
    read; a unit of work that started no event (or a database without the
    version row) loads a snapshot of its own, once."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self._own: catalog_cache.CatalogSnapshot | None = None

    async def _snapshot(self) -> catalog_cache.CatalogSnapshot:
        version = self.link.catalog_version
        if version is None:
            if self._own is None:
                self._own = await self.link.run(catalog_cache.load, None)
            return self._own
        snapshot = self.link.catalog.snapshot
        if snapshot is None or snapshot.version != version:
            snapshot = self.link.catalog.snapshot = await self.link.run(
                catalog_cache.load, version)
        return snapshot

    async def labs_open_for(self, phase: str, now: datetime) -> list[LabRecord]:
        return (await self._snapshot()).labs_open_for(phase, now)

    async def lab_by_slug(self, slug: str) -> LabRecord | None:
        return next((lab for lab in (await self._snapshot()).labs if lab.slug == slug), None)

    async def lab(self, lab_id: int) -> LabRecord | None:
        return next((lab for lab in (await self._snapshot()).labs if lab.id == lab_id), None)

    async def services(self, lab_id: int) -> list[ServiceRecord]:
        return list((await self._snapshot()).services_of_lab.get(lab_id, ()))

    async def service(self, service_id: int) -> ServiceRecord | None:
        return (await self._snapshot()).services.get(service_id)


class SqlOpinions:
    def __init__(self, link: Link) -> None:
        self.link = link

    async def add(self, opinion: NewOpinion) -> int:
        return await self.link.scalar_one(_NEW_OPINION, {
            "citizen_id": opinion.citizen_id, "service_id": opinion.service_id,
            "rating": opinion.rating, "comment": opinion.comment,
            "media_kind": opinion.media_kind, "media_file_id": opinion.media_file_id,
            "language": opinion.language, "channel": opinion.channel,
            "created_at": opinion.created_at})


PREFERENCES = ("participation_updates", "news", "workshop_invitations")


class SqlPreferences:
    """What a citizen wants to hear about. No row means the defaults."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, citizen_id: int) -> PreferencesRecord:
        row = await self.session.get(m.NotificationPreferences, citizen_id)
        if row is None:
            return PreferencesRecord()
        return PreferencesRecord(row.participation_updates, row.news, row.workshop_invitations)

    async def set(self, citizen_id: int, name: str, value: bool, now: datetime) -> None:
        if name not in PREFERENCES:
            raise ValueError(f"unknown preference {name!r}")
        stmt = insert_for(self.session, m.NotificationPreferences).values(
            citizen_id=citizen_id, updated_at=now, **{name: value}
        ).on_conflict_do_update(index_elements=["citizen_id"],
                                set_={name: value, "updated_at": now})
        await self.session.execute(stmt)


class SqlPersonalData:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def collect(self, telegram_id: int) -> dict[str, list[dict[str, Any]]]:
        return await personal_data.collect(self.session, telegram_id)

    async def erase(self, telegram_id: int, *, keep_comments: bool,
                    now: datetime) -> personal_data.Erasure:
        return await personal_data.erase(self.session, telegram_id,
                                          keep_comments=keep_comments, now=now)


def _new_citizen(connection: Connection, values: dict[str, Any]) -> int:
    citizen_id = connection.execute(_NEW_CITIZEN, values).scalar_one()
    connection.execute(_NEW_PREFERENCES, {"citizen_id": citizen_id,
                                          "updated_at": values["first_seen"]})
    return citizen_id


def _seen_citizen_and_state(connection: Connection, dialect: str, update_id: int | None,
                            now: datetime, keys: dict[str, int]) -> tuple[bool, Any]:
    if update_id is not None and dialect == "postgresql":
        row = connection.execute(_SEEN_CITIZEN_AND_STATE,
                                 {**keys, "update_id": update_id, "seen_at": now}).one()
        return row.fresh == 1, row
    fresh = update_id is None or connection.execute(
        _SEEN[dialect], {"update_id": update_id, "seen_at": now}).rowcount == 1
    return fresh, connection.execute(_CITIZEN_AND_STATE, keys).one()


class SqlUnitOfWork:
    """One session, one transaction; leaving without commit() rolls back."""

    def __init__(self, sessions: async_sessionmaker) -> None:
        self._sessions = sessions

    async def __aenter__(self) -> Self:
        self.session: AsyncSession = self._sessions()
        self.link = Link(self.session, catalog_cache.cache_for(self._sessions))
        self.updates = SqlUpdates(self.link)
        self.conversations = SqlConversations(self.link)
        self.citizens = SqlCitizens(self.link)
        self.catalog = SqlCatalog(self.link)
        self.opinions = SqlOpinions(self.link)
        self.outbox = SqlOutbox(self.session)
        self.personal = SqlPersonalData(self.session)
        self.preferences = SqlPreferences(self.session)
        self.proposals = SqlProposals(self.session)
        self.staff = SqlStaff(self.session)
        self.audit = SqlAudit(self.session)
        self.tickets = SqlTickets(self.session)
        self.moderation = SqlModeration(self.session)
        self.chats = SqlChats(self.session)
        self.broadcasts = SqlBroadcasts(self.session)
        self.workshops = SqlWorkshops(self.session)
        self.stats = SqlStats(self.session)
        self.reviews = SqlProposalReviews(self.session)
        return self

    async def start_event(self, update_id: int | None, now: datetime, telegram_id: int,
                          chat_id: int) -> EventStart:
        keys = {"telegram_id": telegram_id, "chat_id": chat_id}
        fresh, row = await self.link.run(_seen_citizen_and_state, self.link.dialect,
                                         update_id, now, keys)
        self.link.catalog_version = row.catalog_version
        citizen = None if row.id is None else CitizenRecord(
            row.id, row.telegram_id, row.language, row.last_seen, row.username,
            row.blocked_bot, consented=bool(row[6]))
        if row.flow is None:
            state = StateRecord(chat_id=chat_id, user_id=telegram_id)
        else:
            state = StateRecord(chat_id, telegram_id, row.flow, row.state, row.step,
                                dict(row.data or {}), is_new=False)
        return EventStart(fresh, citizen, state)

    async def __aexit__(self, *exc: object) -> None:
        # close() ends whatever transaction is left by rolling it back: one hop.
        self.link.forget_deferred()
        await self.session.close()

    async def commit(self) -> None:
        await self.link.commit()

    async def rollback(self) -> None:
        self.link.forget_deferred()
        await self.session.rollback()
