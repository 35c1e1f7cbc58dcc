"""Scheduled workshop jobs, run by the bot's housekeeping loop (``now`` injected).

* offers nobody answered in time expire: the person is told, the seat goes
  to the next one waiting;
* free seats with people waiting (freed by /deleteme, or an offer that
  could not be made) are offered;
* sensitive answers are erased once their workshop is over.

Each job is safe in several processes at once: rows change by conditional
UPDATEs (an expired offer is taken by exactly one process), seats by the
same ``taken < capacity`` UPDATE as a sign-up, and deleting is idempotent.
Reminders and the feedback question need no job: they are outbox rows with
``not_before`` queued when the seat is confirmed or the person checked in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from conversations.engine import notification
from conversations.i18n import N_, translator
from conversations.settings import FlowSettings
from conversations.vocabulary import Notify
from conversations.workshop_notices import describe, offer_seats
from storage.unit_of_work import UnitOfWorkFactory
from storage.workshops import purge_sensitive_answers


@dataclass
class JobReport:
    expired_offers: int = 0
    offers: int = 0
    sensitive_answers_erased: int = 0


async def _queue(uow, notices: list[Notify], now: datetime) -> None:  # type: ignore[no-untyped-def]
    for notice in notices:
        await uow.outbox.enqueue(notification(notice, now))


async def expire_offers(uow_factory: UnitOfWorkFactory, settings: FlowSettings,
                        now: datetime) -> JobReport:
    report = JobReport()
    async with uow_factory() as uow:
        expired = await uow.workshops.expire_offers(now)
        notices: list[Notify] = []
        for registration in expired:
            await uow.workshops.cancel_messages(registration.id)
            person = await uow.workshops.recipient(registration.id)
            workshop = await uow.workshops.get(registration.workshop_id)
            if person is None or workshop is None:
                continue
            t = translator(person.language, settings.timezone)
            notices.append(Notify(person.telegram_id, "⌛ " + t.gettext(N_(
                "The time to take the seat you were offered is over, so it went to the next "
                "person waiting. You can sign up again to join the waiting list:")) + "\n\n" +
                describe(workshop, t, settings.default_language, with_seats=False)))
        for workshop_id in {r.workshop_id for r in expired}:
            offers = await offer_seats(uow.workshops, workshop_id, now, settings)
            report.offers += len(offers)
            notices += offers
        report.expired_offers = len(expired)
        await _queue(uow, notices, now)
        await uow.commit()
    return report


async def offer_free_seats(uow_factory: UnitOfWorkFactory, settings: FlowSettings,
                           now: datetime) -> int:
    async with uow_factory() as uow:
        offers_until = now + timedelta(hours=settings.workshop_no_offers_hours)
        notices: list[Notify] = []
        for workshop_id in await uow.workshops.with_free_seats_and_queue(now, offers_until):
            notices += await offer_seats(uow.workshops, workshop_id, now, settings)
        await _queue(uow, notices, now)
        await uow.commit()
    return len(notices)


async def erase_sensitive_answers(sessions, now: datetime) -> int:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        erased = await purge_sensitive_answers(session, now)
        await session.commit()
    return erased


async def run_workshop_jobs(uow_factory: UnitOfWorkFactory, sessions, settings: FlowSettings,  # type: ignore[no-untyped-def]
                            now: datetime) -> JobReport:
    report = await expire_offers(uow_factory, settings, now)
    report.offers += await offer_free_seats(uow_factory, settings, now)
    report.sensitive_answers_erased = await erase_sensitive_answers(sessions, now)
    return report
