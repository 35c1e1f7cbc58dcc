"""The SQL implementation of the unit of work and its repositories."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Self, TypeVar

from sqlalchemy import and_, bindparam, exists, func, insert, literal_column, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect, Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.expression import Select

from storage import catalog_cache, personal_data
from storage import models as m
from storage.asyncpg_direct import Compiled, driver
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
_citizens = m.Citizen.__table__
_processed = m.ProcessedUpdate.__table__
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

    The writes nothing reads back before the commit (the conversation's
    state, the person's last-seen time) are *pending*: they run at the start
    of the link's next hop, or in the commit's own hop. A button press is
    then two hops (start, and save with commit) and the session's close. The
    session still owns the transaction; statements run through the session
    itself (the ORM repositories) do not see a pending write, and none of
    them reads one.

    On PostgreSQL the transaction also begins lazily, at the event's first
    statement after its start (the asyncpg adapter sends BEGIN just before
    a transaction's first statement, as DBAPI drivers do): the start only
    reads (is the update handled already? the person, their conversation),
    and the update's mark is written with the event's last writes, as one
    statement whose parts each need the mark to be new. A button press that
    stores nothing else is then two round trips (the read, then mark and
    state in one statement that commits on its own) where it was four
    (BEGIN, start, save, COMMIT); both run on asyncpg's connection directly
    (:mod:`storage.asyncpg_direct`). An event that writes more opens its
    transaction at that write, and the same last statement runs inside it,
    through SQLAlchemy, before COMMIT. (Pending writes that must run before
    the commit take the mark with them: see ``_take_writes``.) The
    exactly-once guarantee is where it was: the mark and the event's effects
    commit together or not at all; when another worker committed the same
    update meanwhile, the mark is not new, nothing of this event is kept and
    :meth:`commit` says so (False). SQLite keeps its transaction from the
    start: its BEGIN is no round trip, and its single writer's lock (BEGIN
    IMMEDIATE) is what orders concurrent writers.
    """

    def __init__(self, session: AsyncSession,
                 catalog: catalog_cache.CatalogCache | None = None) -> None:
        self.session = session
        self.dialect = _dialect(session)
        self.lazy = self.dialect == "postgresql"
        self.catalog = catalog or catalog_cache.CatalogCache()
        # Read by start_event; None (the row is missing, or no event started
        # this unit of work) means the catalog is read from its tables.
        self.catalog_version: int | None = None
        self._pending = _Pending()
        # The session's connection, once the event's start read through its
        # driver (PostgreSQL).
        self._direct: AsyncConnection | None = None
        # The mark went with writes run before the commit, and was not new.
        self._lost = False

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """``work(connection, *args)`` on the transaction's connection, in one
        hop, after the pending state and last-seen writes."""
        new, result = await self.session.run_sync(_on_connection, self._take_writes(),
                                                  work, *args)
        self._lost = self._lost or not new
        return result

    async def start_directly(self, statement: Select, params: dict[str, Any]) -> tuple:
        """The event's start, one row of ``statement`` run on asyncpg's
        connection (PostgreSQL) before anything else: outside a transaction."""
        assert self._pending == _Pending(), "the start comes before any write"
        self._direct = await self.session.connection()
        row = await _compiled(statement, self._direct.dialect).row(self._direct, params)
        assert row is not None
        return row

    async def execute(self, statement: Executable, params: dict[str, Any]) -> None:
        await self.run(_execute, statement, params)

    async def first(self, statement: Executable, params: dict[str, Any]) -> Row | None:
        return await self.run(_first, statement, params)

    async def scalar_one(self, statement: Executable, params: dict[str, Any]) -> Any:
        return await self.run(_scalar_one, statement, params)

    def mark_with_commit(self, update_id: int, now: datetime) -> None:
        """Write the update's mark with the event's last writes (PostgreSQL)."""
        self._pending.mark = {"update_id": update_id, "seen_at": now}

    def save_state(self, params: dict[str, Any]) -> None:
        self._pending.state = params

    def seen(self, citizen_id: int, values: dict[str, Any]) -> None:
        """The event's person's last-seen columns (one person per event)."""
        if self._pending.seen is not None:
            pending_id, pending_values = self._pending.seen
            assert pending_id == citizen_id, "one person's last-seen per event"
            values = {**pending_values, **values}
        self._pending.seen = (citizen_id, values)

    async def commit(self) -> bool:
        """The pending writes and the commit, in one hop. False when the
        update's mark was there already: nothing of the event was kept."""
        pending, self._pending = self._pending, _Pending()
        if self._lost:
            self._lost = False
            await self.session.rollback()
            return False
        if (pending.mark is not None and self._direct is not None
                and not _in_transaction(self._direct) and self._session_is_clean()):
            # Nothing began a transaction: the last writes are the event's
            # only ones, and their statement commits on its own.
            statement, params = pending.marked()
            [new] = await _compiled(statement, self._direct.dialect).row(  # type: ignore[misc]
                self._direct, params)
            return new == 1
        return await self.session.run_sync(_commit, pending)

    def _session_is_clean(self) -> bool:
        """No ORM object waits for the session's flush."""
        return not (self.session.new or self.session.dirty or self.session.deleted)

    def forget_pending(self) -> None:
        self._pending = _Pending()
        self._lost = False

    def _take_writes(self) -> _Pending:
        """The pending state and last-seen writes, with the mark if there is
        one. The mark goes ahead of them (one statement), never after: a
        second worker on the same update then waits for this one's mark,
        not for the person's or the conversation's row while this one waits
        for its mark (a deadlock; tests/test_sql_unit_of_work.py). Writes the
        flows make themselves (an opinion, a sign-up) come before the mark;
        two workers on one update run the same flow and take those rows in
        the same order."""
        if self._pending.state is None and self._pending.seen is None:
            return _NO_WRITES
        writes, self._pending = self._pending, _Pending()
        return writes


@dataclass
class _Pending:
    """An event's writes kept for a later hop (see Link)."""

    mark: dict[str, Any] | None = None
    state: dict[str, Any] | None = None
    seen: tuple[int, dict[str, Any]] | None = None  # the citizen's id, the columns to set

    def write(self, connection: Connection) -> bool:
        """The writes, with the mark as one statement (PostgreSQL) or as
        statements of their own; False when the mark was not new."""
        if self.mark is not None:
            statement, params = self.marked()
            return connection.execute(statement, params).scalar_one() == 1
        if self.state is not None:
            connection.execute(_SAVE_STATE[connection.dialect.name], self.state)
        if self.seen is not None:
            citizen_id, values = self.seen
            connection.execute(update(_citizens).where(_citizens.c.id == citizen_id), values)
        return True

    def marked(self) -> tuple[Select, dict[str, Any]]:
        """The mark, the state and the last-seen as one statement (PostgreSQL),
        answering 1 when the mark was new and 0 (nothing written) when not."""
        assert self.mark is not None
        params = dict(self.mark)
        if self.state is not None:
            params.update({f"s_{name}": value for name, value in self.state.items()})
        columns: tuple[str, ...] = ()
        if self.seen is not None:
            params["c_id"] = self.seen[0]
            params.update({f"c_{name}": value for name, value in self.seen[1].items()})
            columns = tuple(sorted(self.seen[1]))
        return _marked_writes(self.state is not None, columns), params


_NO_WRITES = _Pending()


def _on_connection(session: Session, writes: _Pending, work: Callable[..., T],
                   *args: Any) -> tuple[bool, T]:
    connection = session.connection()
    new = writes is _NO_WRITES or writes.write(connection)
    return new, work(connection, *args)


def _in_transaction(connection: AsyncConnection) -> bool:
    """Whether the driver has begun a transaction (asyncpg's own answer)."""
    return driver(connection).is_in_transaction()  # type: ignore[no-any-return]


def _commit(session: Session, pending: _Pending) -> bool:
    # In the event's transaction (the driver begins one if nothing did yet).
    new = (pending.mark is None and pending.state is None and pending.seen is None
           ) or pending.write(session.connection())
    if new:
        session.commit()
    else:
        session.rollback()
    return new


@cache
def _compiled(statement: Select, dialect: Dialect) -> Compiled:
    return Compiled(statement, dialect)


@cache
def _marked_writes(state: bool, citizen_columns: tuple[str, ...]) -> Select:
    """``SELECT count(*) FROM seen`` with the writes as data-modifying CTEs:
    the mark (``seen``: one row when it is new, none when not) and, each
    needing that row so that it writes nothing when the mark was not new,
    the state's upsert (its row selected from ``seen``) and the person's
    last-seen update.
    Built once per shape (which writes, which of the person's columns)."""
    seen = (postgresql.insert(_processed)
            .values(update_id=bindparam("update_id"), seen_at=bindparam("seen_at"))
            .on_conflict_do_nothing(index_elements=["update_id"])
            .returning(_processed.c.update_id).cte("seen"))
    writes = []
    if state:
        names = ("chat_id", "user_id", *_STATE_COLUMNS)
        rows = select(*(bindparam(f"s_{name}", type_=_states.c[name].type) for name in names)
                      ).select_from(seen)
        upsert = postgresql.insert(_states).from_select(names, rows)
        writes.append(upsert.on_conflict_do_update(
            index_elements=["chat_id", "user_id"],
            set_={name: upsert.excluded[name] for name in _STATE_COLUMNS}).cte("saved"))
    if citizen_columns:
        writes.append(
            update(_citizens)
            .where(_citizens.c.id == bindparam("c_id"), exists(select(seen.c.update_id)))
            .values({name: bindparam(f"c_{name}", type_=_citizens.c[name].type)
                     for name in citizen_columns})
            .cte("seen_citizen"))
    return select(func.count()).select_from(seen).add_cte(*writes)


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
        # Pending until the commit's hop (see Link): the engine saves last.
        self.link.save_state({
            "chat_id": state.chat_id, "user_id": state.user_id, "flow": state.flow,
            "state": state.state, "step": state.step, "data": dict(state.data),
            "updated_at": now})


PRIVACY = "privacy"


def _has_privacy_consent():  # type: ignore[no-untyped-def]
    return (select(m.Consent.id).where(
        m.Consent.citizen_id == m.Citizen.id, m.Consent.purpose == PRIVACY,
        m.Consent.withdrawn_at.is_(None)).exists())


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
# On PostgreSQL the same read asks whether the update was handled already;
# its mark is written with the event's last writes (see Link).
_HANDLED_CITIZEN_AND_STATE = _CITIZEN_AND_STATE.add_columns(
    exists().where(_processed.c.update_id == bindparam("update_id")).label("handled"))
_HandledCitizenAndState = namedtuple(  # type: ignore[misc]
    "_HandledCitizenAndState", [c.key for c in _HANDLED_CITIZEN_AND_STATE.selected_columns],
    rename=True)


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
        # Pending until the commit's hop (see Link): nothing reads it back.
        self.link.seen(citizen.id, values)

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
        if update_id is not None and self.link.lazy:
            row = _HandledCitizenAndState._make(await self.link.start_directly(
                _HANDLED_CITIZEN_AND_STATE, {**keys, "update_id": update_id}))
            fresh = not row.handled
            if fresh:
                self.link.mark_with_commit(update_id, now)
        else:
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
        self.link.forget_pending()
        await self.session.close()

    async def commit(self) -> bool:
        return await self.link.commit()

    async def rollback(self) -> None:
        self.link.forget_pending()
        await self.session.rollback()
