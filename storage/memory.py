"""An in-memory unit of work: the same repositories without a database.

Used by the engine benchmark (to measure the engine and flows alone) and by
flow tests that run on every backend. Writes apply at once and are undone
in reverse order on rollback, which is all the atomicity one event needs.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Self

from storage.outbox import NewNotification
from storage.personal_data import Erasure
from storage.records import (
    CitizenRecord,
    ConsentRecord,
    EventStart,
    LabRecord,
    NewOpinion,
    ServiceRecord,
    StateRecord,
)
from storage.unit_of_work import start_event_step_by_step


@dataclass
class Phase:
    lab_id: int
    phase: str
    opens_at: datetime
    closes_at: datetime | None


@dataclass
class MemoryStore:
    """The shared "database" all memory units of work read and write."""

    seen_updates: set[int] = field(default_factory=set)
    states: dict[tuple[int, int], StateRecord] = field(default_factory=dict)
    citizens: dict[int, CitizenRecord] = field(default_factory=dict)  # by telegram id
    consents: list[dict] = field(default_factory=list)
    labs: dict[int, LabRecord] = field(default_factory=dict)
    phases: list[Phase] = field(default_factory=list)
    services: dict[int, ServiceRecord] = field(default_factory=dict)
    opinions: dict[int, NewOpinion] = field(default_factory=dict)
    outbox: dict[int, NewNotification] = field(default_factory=dict)
    roles: dict[int, set[str]] = field(default_factory=dict)  # by citizen id

    def add_lab(self, slug: str, title: dict[str, str], opens_at: datetime,
                phases: tuple[str, ...] = ("opinions",)) -> LabRecord:
        lab = LabRecord(len(self.labs) + 1, slug, title)
        self.labs[lab.id] = lab
        self.phases.extend(Phase(lab.id, p, opens_at, None) for p in phases)
        return lab

    def add_service(self, lab: LabRecord, slug: str, title: dict[str, str]) -> ServiceRecord:
        service = ServiceRecord(len(self.services) + 1, lab.id, slug, title)
        self.services[service.id] = service
        return service


class _Repo:
    def __init__(self, store: MemoryStore, undo: list[Callable[[], None]]) -> None:
        self.store = store
        self.undo = undo


class MemoryUpdates(_Repo):
    async def mark_seen(self, update_id: int, now: datetime) -> bool:
        if update_id in self.store.seen_updates:
            return False
        self.store.seen_updates.add(update_id)
        self.undo.append(lambda: self.store.seen_updates.discard(update_id))
        return True


class MemoryConversations(_Repo):
    async def load(self, chat_id: int, user_id: int) -> StateRecord:
        found = self.store.states.get((chat_id, user_id))
        if found is None:
            return StateRecord(chat_id=chat_id, user_id=user_id)
        return replace(found, data=copy.deepcopy(found.data), is_new=False)

    async def save(self, state: StateRecord, now: datetime) -> None:
        key = (state.chat_id, state.user_id)
        previous = self.store.states.get(key)
        self.store.states[key] = replace(state, data=copy.deepcopy(state.data), is_new=False)

        def restore() -> None:
            if previous is None:
                self.store.states.pop(key, None)
            else:
                self.store.states[key] = previous

        self.undo.append(restore)


class MemoryCitizens(_Repo):
    def _put(self, citizen: CitizenRecord) -> None:
        previous = self.store.citizens.get(citizen.telegram_id)
        self.store.citizens[citizen.telegram_id] = citizen

        def restore() -> None:
            if previous is None:
                self.store.citizens.pop(citizen.telegram_id, None)
            else:
                self.store.citizens[citizen.telegram_id] = previous

        self.undo.append(restore)

    def _by_id(self, citizen_id: int) -> CitizenRecord | None:
        return next((c for c in self.store.citizens.values() if c.id == citizen_id), None)

    async def by_telegram_id(self, telegram_id: int) -> CitizenRecord | None:
        citizen = self.store.citizens.get(telegram_id)
        if citizen is None:
            return None
        return replace(citizen, consented=await self.has_consent(citizen.id, "privacy"))

    async def register(self, telegram_id: int, username: str | None, first_name: str | None,
                       language: str, now: datetime) -> CitizenRecord:
        existing = self.store.citizens.get(telegram_id)
        if existing:
            return existing
        citizen = CitizenRecord(len(self.store.citizens) + 1, telegram_id, language, now,
                                username, consented=False)
        self._put(citizen)
        return citizen

    async def seen(self, citizen: CitizenRecord, username: str | None, now: datetime) -> None:
        self._put(replace(citizen, username=username, blocked_bot=False, last_seen=now))

    async def set_language(self, citizen_id: int, language: str) -> None:
        citizen = self._by_id(citizen_id)
        if citizen:
            self._put(replace(citizen, language=language))

    async def set_blocked(self, telegram_id: int, blocked: bool, now: datetime) -> None:
        citizen = self.store.citizens.get(telegram_id)
        if citizen:
            self._put(replace(citizen, blocked_bot=blocked))

    async def give_consent(self, citizen_id: int, purpose: str, version: str,
                           now: datetime) -> None:
        row = {"citizen_id": citizen_id, "purpose": purpose, "version": version,
               "given_at": now, "withdrawn_at": None}
        self.store.consents.append(row)
        self.undo.append(lambda: self.store.consents.remove(row))

    async def has_consent(self, citizen_id: int, purpose: str) -> bool:
        return any(c["citizen_id"] == citizen_id and c["purpose"] == purpose
                   and c["withdrawn_at"] is None for c in self.store.consents)

    async def consents(self, citizen_id: int) -> list[ConsentRecord]:
        return [ConsentRecord(c["purpose"], c["version"], c["given_at"], c["withdrawn_at"])
                for c in self.store.consents if c["citizen_id"] == citizen_id]

    async def withdraw_consent(self, citizen_id: int, purpose: str, now: datetime) -> None:
        for row in self.store.consents:
            if row["citizen_id"] == citizen_id and row["purpose"] == purpose \
                    and row["withdrawn_at"] is None:
                row["withdrawn_at"] = now
                self.undo.append(lambda row=row: row.update(withdrawn_at=None))

    async def roles(self, citizen_id: int) -> frozenset[str]:
        return frozenset(self.store.roles.get(citizen_id, ()))


class MemoryCatalog(_Repo):
    async def labs_open_for(self, phase: str, now: datetime) -> list[LabRecord]:
        open_ids = {p.lab_id for p in self.store.phases if p.phase == phase
                    and p.opens_at <= now and (p.closes_at is None or p.closes_at > now)}
        return [lab for lab_id, lab in sorted(self.store.labs.items()) if lab_id in open_ids]

    async def lab_by_slug(self, slug: str) -> LabRecord | None:
        return next((lab for lab in self.store.labs.values() if lab.slug == slug), None)

    async def lab(self, lab_id: int) -> LabRecord | None:
        return self.store.labs.get(lab_id)

    async def services(self, lab_id: int) -> list[ServiceRecord]:
        return [s for s in self.store.services.values() if s.lab_id == lab_id]

    async def service(self, service_id: int) -> ServiceRecord | None:
        return self.store.services.get(service_id)


class MemoryOpinions(_Repo):
    async def add(self, opinion: NewOpinion) -> int:
        opinion_id = len(self.store.opinions) + 1
        self.store.opinions[opinion_id] = opinion
        self.undo.append(lambda: self.store.opinions.pop(opinion_id, None))
        return opinion_id


class MemoryOutbox(_Repo):
    async def enqueue(self, item: NewNotification) -> int | None:
        if item.dedupe_key is not None and any(
                row.dedupe_key == item.dedupe_key for row in self.store.outbox.values()):
            return None
        row_id = len(self.store.outbox) + 1
        self.store.outbox[row_id] = item
        self.undo.append(lambda: self.store.outbox.pop(row_id, None))
        return row_id

    async def cancel_to(self, chat_id: int, reason: str) -> int:
        cancelled = {k: n for k, n in self.store.outbox.items() if n.chat_id == chat_id}
        for key in cancelled:
            del self.store.outbox[key]
        self.undo.append(lambda: self.store.outbox.update(cancelled))
        return len(cancelled)


class MemoryPersonalData(_Repo):
    """The same contract as :mod:`storage.personal_data`, over the memory store."""

    async def collect(self, telegram_id: int) -> dict[str, list[dict[str, Any]]]:
        citizen = self.store.citizens.get(telegram_id)
        cid = citizen.id if citizen else None
        return {
            "citizens": [vars_of(citizen)] if citizen else [],
            "consents": [dict(c) for c in self.store.consents if c["citizen_id"] == cid],
            "opinions": [vars_of(o) for o in self.store.opinions.values()
                         if o.citizen_id == cid and cid is not None],
            "conversation_states": [vars_of(s) for (_, user), s in self.store.states.items()
                                    if user == telegram_id],
            "outbox": [vars_of(n) for n in self.store.outbox.values()
                       if n.chat_id == telegram_id],
        }

    async def erase(self, telegram_id: int, *, keep_comments: bool,
                    now: datetime) -> Erasure:
        done = Erasure(kept_comments=keep_comments)
        store = self.store
        saved = (dict(store.citizens), list(store.consents), dict(store.opinions),
                 dict(store.states), dict(store.outbox))

        def restore() -> None:
            (store.citizens, store.consents, store.opinions, store.states,
             store.outbox) = saved

        self.undo.append(restore)
        citizen = self.store.citizens.pop(telegram_id, None)
        if citizen is not None:
            done.add("citizens", 1)
            consents = [c for c in self.store.consents if c["citizen_id"] == citizen.id]
            self.store.consents = [c for c in self.store.consents if c not in consents]
            done.add("consents", len(consents))
            for key, opinion in list(self.store.opinions.items()):
                if opinion.citizen_id == citizen.id:
                    self.store.opinions[key] = replace(
                        opinion, citizen_id=None,  # type: ignore[arg-type]
                        **({} if keep_comments else
                           {"comment": None, "media_kind": None, "media_file_id": None}))
                    done.add("opinions", 1)
        for key in [k for k in self.store.states if k[1] == telegram_id]:
            del self.store.states[key]
            done.add("conversation_states", 1)
        for key in [k for k, n in self.store.outbox.items() if n.chat_id == telegram_id]:
            del self.store.outbox[key]
            done.add("outbox_cancelled", 1)
        return done


def vars_of(record: Any) -> dict[str, Any]:
    return {name: getattr(record, name) for name in getattr(record, "__slots__", ())}


class MemoryUnitOfWork:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self._undo: list[Callable[[], None]] = []

    async def __aenter__(self) -> Self:
        self._undo = []
        self.updates = MemoryUpdates(self.store, self._undo)
        self.conversations = MemoryConversations(self.store, self._undo)
        self.citizens = MemoryCitizens(self.store, self._undo)
        self.catalog = MemoryCatalog(self.store, self._undo)
        self.opinions = MemoryOpinions(self.store, self._undo)
        self.outbox = MemoryOutbox(self.store, self._undo)
        self.personal = MemoryPersonalData(self.store, self._undo)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.rollback()

    async def start_event(self, update_id: int | None, now: datetime, telegram_id: int,
                          chat_id: int) -> EventStart:
        return await start_event_step_by_step(self, update_id, now, telegram_id,  # type: ignore[arg-type]
                                              chat_id)

    async def commit(self) -> bool:
        self._undo.clear()
        return True

    async def rollback(self) -> None:
        while self._undo:
            self._undo.pop()()
