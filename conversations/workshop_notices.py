"""What workshops say, to the citizen in front of us or to others through the outbox.

Shared by the citizen journey, the staff commands and the scheduled jobs:
how a workshop is described, the reminders queued at sign-up, the offer of
a freed seat to the next person waiting. Notices to other people are
rendered in *their* language (``translator(language, timezone)``).

Dedupe keys of a registration's messages start with ``ws:<id>:<token
prefix>:`` so that giving up a seat cancels what is still queued
(:meth:`storage.workshops.SqlWorkshops.cancel_messages`), and signing up
again (a new token) queues fresh ones.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from conversations.flow import global_button
from conversations.i18n import N_, Translator, pick, translator
from conversations.settings import FlowSettings
from conversations.text import escape
from conversations.vocabulary import Notify
from storage.workshops import RegistrationRecord, SqlWorkshops, WorkshopRecord

FLOW = "ws"


def key(registration: RegistrationRecord, what: str) -> str:
    return f"ws:{registration.id}:{registration.checkin_token[:8]}:{what}"


def when(workshop: WorkshopRecord, t: Translator) -> str:
    return t.gettext(N_("{date}, {time}")).format(date=t.date(workshop.starts_at),
                                                  time=t.time(workshop.starts_at))


def where(workshop: WorkshopRecord, t: Translator) -> str:
    if workshop.online_url:
        return "💻 " + t.gettext(N_("Online: {link}")).format(link=escape(workshop.online_url))
    line = "📍 " + escape(workshop.place or "")
    if workshop.map_url:
        line += f' (<a href="{escape(workshop.map_url)}">' + t.gettext(N_("map")) + "</a>)"
    return line


def seats(workshop: WorkshopRecord, t: Translator) -> str:
    if workshop.seats_left <= 0:
        return "🔴 " + t.gettext(N_("Full: you can join the waiting list."))
    return "🟢 " + t.ngettext("{left} of {capacity} seat left", "{left} of {capacity} seats left",
                             workshop.capacity).format(left=t.number(workshop.seats_left),
                                                       capacity=t.number(workshop.capacity))


def title(workshop: WorkshopRecord, t: Translator, default: str) -> str:
    return escape(pick(workshop.title, t.language, default))


def describe(workshop: WorkshopRecord, t: Translator, default: str, *,
             with_seats: bool = True, with_description: bool = False) -> str:
    lines = ["<b>" + title(workshop, t, default) + "</b>", "📅 " + when(workshop, t),
             where(workshop, t)]
    if with_seats:
        lines.append(seats(workshop, t))
    description = pick(workshop.description, t.language, default)
    if with_description and description:
        lines += ["", escape(description)]
    return "\n".join(lines)


def reminders(workshop: WorkshopRecord, registration: RegistrationRecord, telegram_id: int,
              language: str, now: datetime, settings: FlowSettings) -> list[Notify]:
    """The reminders of a seat, each only if the sign-up came before its moment
    (no 48 h reminder for a sign-up 30 h before). After downtime a reminder is
    sent late only while it is still the latest one and the workshop has not
    started (``not_after``: the next reminder's moment, or the start)."""
    t = translator(language, settings.timezone)
    moments = [(hours, workshop.starts_at - timedelta(hours=hours))
               for hours in sorted(settings.workshop_reminder_hours, reverse=True)]
    moments = [(hours, moment) for hours, moment in moments if now < moment]
    queued = []
    for index, (hours, moment) in enumerate(moments):
        expires = moments[index + 1][1] if index + 1 < len(moments) else workshop.starts_at
        text = "⏰ " + t.ngettext(
            "Reminder: the workshop starts in {hours} hour.",
            "Reminder: the workshop starts in {hours} hours.", hours).format(
            hours=t.number(hours)) + "\n\n" + describe(workshop, t, settings.default_language,
                                                       with_seats=False)
        buttons = ((global_button("👍 " + t.gettext(N_("I'll come")), FLOW, "coming",
                                  registration.id),
                    global_button("🙁 " + t.gettext(N_("I can't come")), FLOW, "notcoming",
                                  registration.id)),)
        # The workshop's revision in the key: after a change of date or place the
        # old reminders are cancelled and new ones (new keys) queued.
        what = f"r{hours}-v{workshop.revision}"
        queued.append(Notify(telegram_id, text, buttons, key=key(registration, what),
                             not_before=moment, not_after=expires))
    return queued


def offer_hours(workshop: WorkshopRecord, now: datetime, settings: FlowSettings
                ) -> datetime | None:
    """Until when an offer made now is valid: min(24 h, half the time left);
    None in the last hours, when no offers are made."""
    if now >= workshop.starts_at - timedelta(hours=settings.workshop_no_offers_hours):
        return None
    return now + min(timedelta(hours=settings.workshop_offer_max_hours),
                     (workshop.starts_at - now) / 2)


def offers_over(workshop: WorkshopRecord, now: datetime, settings: FlowSettings) -> bool:
    return offer_hours(workshop, now, settings) is None


async def offer_seats(workshops: SqlWorkshops, workshop_id: int, now: datetime,
                      settings: FlowSettings) -> list[Notify]:
    """Free seats of this workshop offered, in turn, to the people waiting."""
    workshop = await workshops.get(workshop_id)
    if workshop is None or workshop.status != "scheduled":
        return []
    expires = offer_hours(workshop, now, settings)
    if expires is None:
        return []
    offers = []
    while (registration := await workshops.offer_next(workshop_id, now, expires)) is not None:
        person = await workshops.recipient(registration.id)
        if person is None:
            continue
        t = translator(person.language, settings.timezone)
        text = "🎉 " + t.gettext(N_("A seat is free for you at this workshop:")) + "\n\n" + \
            describe(workshop, t, settings.default_language, with_seats=False) + "\n\n" + \
            t.gettext(N_("Do you want it? The seat is kept for you until {moment}.")).format(
                moment=t.datetime(expires, "short"))
        buttons = ((global_button("✅ " + t.gettext(N_("Take the seat")), FLOW, "take",
                                  registration.id),
                    global_button(t.gettext(N_("No, thanks")), FLOW, "decline",
                                  registration.id)),)
        offers.append(Notify(person.telegram_id, text, buttons, key=key(registration, "offer"),
                             not_after=expires))
    return offers


def to_everyone(people, text_for) -> list[Notify]:  # type: ignore[no-untyped-def]
    """One notice per person, each rendered in their language."""
    return [Notify(p.telegram_id, text_for(p)) for p in people]
