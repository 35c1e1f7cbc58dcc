"""Workshops for staff: check-in at the door, the list of who comes, managing them.

```mermaid
stateDiagram-v2
    [*] --> checkin: /checkin SLUG
    checkin --> checkin: a person (checked in) / a name typed (search)
    [*] --> list: /manageworkshops
    list --> one: a workshop (signed up / waiting / attended)
    one --> date: Change date (registered citizens are told)
    one --> place: Change place (registered citizens are told)
    one --> cancel: Cancel the workshop
    cancel --> list: Yes (everyone registered or waiting is told)
    one --> one: Attendees (a file)
```

``/start checkin-TOKEN`` (the QR code) checks a person in when staff scan
it; to anyone else it says politely that the code is for the door. Every
command here registers with :func:`conversations.roles.staff_command`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

from conversations import roles
from conversations.callback import CallbackData
from conversations.flow import Ctx, Flow, Go, Gone, Screen, State, deep_link, global_button, stay
from conversations.i18n import N_, pick, translator
from conversations.text import escape, shorten
from conversations.vocabulary import Document, Event, Notify, Reply
from conversations.workshop_notices import describe, key, reminders, title, when
from storage.export import write_csv
from storage.workshops import RegistrationRecord, WorkshopRecord

checkin = Flow("wscheck", entry="list")
manage = Flow("wsman", entry="list")

CHECKIN_PAGE = 20
MANAGE_SHOWN = 12
SEARCH_MAX = 64
PLACE_MAX = 300
FEEDBACK_DAYS = 7
DATE_FORMAT = "%Y-%m-%d %H:%M"


def _name(workshop: WorkshopRecord, ctx: Ctx) -> str:
    return title(workshop, ctx.t, ctx.settings.default_language)


def person_label(name: str | None, username: str | None) -> str:
    label = name or ""
    if username:
        label = f"{label} @{username}".strip()
    return label or "?"


async def workshop_from_args(event: Event, ctx: Ctx, command: str
                             ) -> tuple[WorkshopRecord | None, Go | None]:
    """The workshop named by ``/command SLUG``, or the polite answer to give instead."""
    slug = event.args.strip().split(" ")[0] if event.args.strip() else ""
    if not slug:
        found = await ctx.uow.workshops.all(since=ctx.now)
        codes = ", ".join(f"<code>{escape(w.slug)}</code>" for w in found) or "—"
        return None, stay(ctx._(N_("Please write the workshop's code after the command, for "
                                   "example /{command} {example}. Codes: {codes}")).format(
            command=command, example=escape(found[0].slug if found else "code"), codes=codes))
    workshop = await ctx.uow.workshops.by_slug(slug)
    if workshop is None:
        return None, stay(ctx._(N_("There is no workshop with the code {code}. "
                                   "/manageworkshops lists them.")).format(code=escape(slug)))
    return workshop, None


# -- check-in -----------------------------------------------------------------


async def mark_attended(registration: RegistrationRecord, workshop: WorkshopRecord,
                        ctx: Ctx) -> tuple[bool, tuple[Reply, ...]]:
    """Attendance, once; the attendee's feedback question is queued for the end."""
    if not await ctx.uow.workshops.check_in(registration.id, ctx.now):
        return False, ()
    person = await ctx.uow.workshops.recipient(registration.id)
    if person is None:
        return True, ()
    t = translator(person.language, ctx.settings.timezone)
    text = "🙏 " + t.gettext(N_("Thank you for coming to {workshop}! How was it? Tap a score "
                               "from 1 (poor) to 5 (excellent).")).format(
        workshop=title(workshop, t, ctx.settings.default_language))
    scores = tuple(global_button(str(n), "ws", "fb", registration.id, n) for n in range(1, 6))
    feedback = Notify(person.telegram_id, text, (scores,), key=key(registration, "fb"),
                      not_before=max(workshop.ends_at, ctx.now),
                      not_after=workshop.ends_at + timedelta(days=FEEDBACK_DAYS))
    return True, (feedback,)


@deep_link("checkin")
async def scan(token: str, ctx: Ctx) -> Go:
    if not roles.includes(await roles.role_of(ctx), roles.STAFF):
        return Go("menu.idle", notice=ctx._(N_("This code is for the staff at the workshop's "
                                               "door: please show it to them when you arrive. "
                                               "Your seat is kept.")))
    registration = await ctx.uow.workshops.by_token(token)
    workshop = await ctx.uow.workshops.get(registration.workshop_id) if registration else None
    person = await ctx.uow.workshops.recipient(registration.id) if registration else None
    if registration is None or workshop is None or person is None:
        return Go("menu.idle", notice="⚠️ " + ctx._(N_("This check-in code is not valid.")))
    who = escape(person_label(person.name, person.username))
    if registration.status == "attended":
        notice = "ℹ️ " + ctx._(N_("{person} was already checked in at {time}.")).format(
            person=who, time=ctx.t.time(registration.attended_at or ctx.now))
        return Go("menu.idle", notice=notice)
    if workshop.status != "scheduled" or registration.status != "confirmed":
        return Go("menu.idle", notice="⚠️ " + ctx._(N_(
            "{person} has no confirmed seat at {workshop}.")).format(
            person=who, workshop=_name(workshop, ctx)))
    _, replies = await mark_attended(registration, workshop, ctx)
    return Go("menu.idle", replies=replies, notice="✅ " + ctx._(N_(
        "{person} is checked in at {workshop}.")).format(person=who,
                                                          workshop=_name(workshop, ctx)))


@roles.staff_command("checkin", roles.STAFF, N_("Check people in at a workshop's door"))
async def checkin_command(event: Event, ctx: Ctx) -> Go:
    workshop, answer = await workshop_from_args(event, ctx, "checkin")
    if workshop is None:
        assert answer is not None
        return answer
    return Go("wscheck.list", carry={"workshop_id": workshop.id, "search": ""})


async def staff_workshop(ctx: Ctx) -> WorkshopRecord:
    workshop = await ctx.uow.workshops.get(int(ctx.data.get("workshop_id", -1)))
    if workshop is None:
        raise Gone
    return workshop


@checkin.state("list")
class CheckInList(State):
    help = N_("Tap a person to check them in, or write part of a name to search.")

    async def show(self, ctx: Ctx) -> Screen:
        workshop = await staff_workshop(ctx)
        people = await ctx.uow.workshops.recipients(workshop.id, ("confirmed", "attended"))
        arrived = sum(1 for p in people if p.status == "attended")
        search = (ctx.data.get("search") or "").casefold()
        if search:
            people = [p for p in people
                      if search in person_label(p.name, p.username).casefold()]
        lines = ["<b>" + ctx._(N_("Check-in: {workshop}")).format(
            workshop=_name(workshop, ctx)) + "</b>",
            ctx.ngettext("{arrived} of {total} has arrived.", "{arrived} of {total} have arrived.",
                         arrived).format(
                arrived=ctx.t.number(arrived), total=ctx.t.number(
                    len(await ctx.uow.workshops.recipients(workshop.id,
                                                           ("confirmed", "attended")))))]
        if search:
            lines.append(ctx._(N_("Search: {text}")).format(text=escape(ctx.data["search"])))
        if not people:
            lines.append(ctx._(N_("Nobody matches.")))
        elif len(people) > CHECKIN_PAGE:
            lines.append(ctx._(N_("Showing the first {count}: write part of a name to find "
                                  "someone.")).format(count=ctx.t.number(CHECKIN_PAGE)))
        lines.append(ctx._(N_("Write part of a name to search.")))
        rows = [(ctx.button(("✅ " if p.status == "attended" else "⬜ ")
                            + shorten(person_label(p.name, p.username), 50), "in",
                            p.registration_id),) for p in people[:CHECKIN_PAGE]]
        if search:
            rows.append((ctx.button(ctx._(N_("Show everyone")), "all"),))
        rows.append((ctx.button(ctx._(N_("Done")), "done"),))
        return Screen("\n".join(lines), tuple(rows))

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action == "done":
            return Go("menu.idle")
        if data.action == "all":
            ctx.data["search"] = ""
            return stay()
        if data.action != "in":
            return None
        workshop = await staff_workshop(ctx)
        registration = await ctx.uow.workshops.registration(data.int_id() or -1)
        person = await ctx.uow.workshops.recipient(data.int_id() or -1)
        if registration is None or person is None or registration.workshop_id != workshop.id:
            raise Gone
        who = escape(person_label(person.name, person.username))
        done, replies = await mark_attended(registration, workshop, ctx)
        if not done:
            return Go(notice="ℹ️ " + ctx._(N_("{person} was already checked in.")).format(
                person=who))
        ctx.data["search"] = ""
        return Go(replies=replies, notice="✅ " + ctx._(N_("{person} is checked in.")).format(
            person=who))

    async def on_text(self, text: str, ctx: Ctx) -> Go:
        text = text.strip()
        if not text or len(text) > SEARCH_MAX:
            return stay(ctx._(N_("Please write part of a name (up to {max} characters).")
                              ).format(max=ctx.t.number(SEARCH_MAX)))
        ctx.data["search"] = text
        return stay()


# -- the list of attendees ------------------------------------------------------


async def attendees_file(workshop: WorkshopRecord, ctx: Ctx, *, sensitive: bool) -> Document:
    columns, rows = await ctx.uow.workshops.attendees_table(
        workshop.id, ctx.language, include_sensitive=sensitive)
    content = write_csv(columns, rows, ctx.settings.timezone)
    caption = ctx.ngettext("{count} person signed up or waiting.",
                           "{count} people signed up or waiting.", len(rows)).format(
        count=ctx.t.number(len(rows)))
    if not sensitive:
        caption += " " + ctx._(N_("Sensitive answers are left out; write the word "
                                  "<code>sensitive</code> after the code to include them."))
    return Document(f"attendees-{workshop.slug}.csv", content, caption=caption)


@roles.staff_command("attendees", roles.STAFF, N_("The list of a workshop's attendees (a file)"))
async def attendees_command(event: Event, ctx: Ctx) -> Go:
    workshop, answer = await workshop_from_args(event, ctx, "attendees")
    if workshop is None:
        assert answer is not None
        return answer
    sensitive = "sensitive" in event.args.split()[1:]
    return Go(show=False, replies=(await attendees_file(workshop, ctx, sensitive=sensitive),))


# -- managing workshops -----------------------------------------------------------


@roles.staff_command("manageworkshops", roles.STAFF,
                     N_("Workshops: counts, change the date or place, cancel"))
async def manage_command(event: Event, ctx: Ctx) -> Go:
    return Go("wsman.list")


def parse_local(text: str, zone: str) -> datetime | None:
    """``YYYY-MM-DD HH:MM`` in the bot's time zone, as an aware UTC datetime."""
    try:
        naive = datetime.strptime(" ".join(text.split()), DATE_FORMAT)
    except ValueError:
        return None
    return naive.replace(tzinfo=ZoneInfo(zone)).astimezone(ZoneInfo("UTC"))


def map_link(place: str) -> str:
    return "https://www.openstreetmap.org/search?query=" + quote(place)


def is_link(text: str) -> bool:
    return text.startswith(("https://", "http://")) and " " not in text


@manage.state("list")
class ManageList(State):
    help = N_("Tap a workshop to see its numbers, change it or cancel it.")

    async def show(self, ctx: Ctx) -> Screen:
        # The soonest ones: a Telegram message holds 4,096 characters.
        found = (await ctx.uow.workshops.all(since=ctx.now))[:MANAGE_SHOWN]
        if not found:
            return Screen(ctx._(N_("There are no upcoming workshops. /newworkshop creates "
                                   "one.")), ((ctx.button(ctx._(N_("Done")), "done"),),))
        parts = ["<b>" + ctx._(N_("Workshops")) + "</b>"]
        rows = []
        for workshop in found:
            counts = await ctx.uow.workshops.counts(workshop.id)
            line = describe(workshop, ctx.t, ctx.settings.default_language, with_seats=False)
            if workshop.status == "cancelled":
                line += "\n❌ " + ctx._(N_("Cancelled"))
            line += "\n" + ctx._(N_("Code: {code} · signed up: {signed} of {capacity} · "
                                    "waiting: {waiting} · attended: {attended}")).format(
                code=f"<code>{escape(workshop.slug)}</code>",
                signed=ctx.t.number(counts.signed_up), capacity=ctx.t.number(workshop.capacity),
                waiting=ctx.t.number(counts.waiting + counts.offered),
                attended=ctx.t.number(counts.attended))
            parts.append(line)
            rows.append((ctx.button(shorten(pick(workshop.title, ctx.language,
                                         ctx.settings.default_language), 60), "one",
                                    workshop.id),))
        rows.append((ctx.button(ctx._(N_("Done")), "done"),))
        return Screen("\n\n".join(parts), tuple(rows))

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action == "done":
            return Go("menu.idle")
        if data.action == "one":
            ctx.data["workshop_id"] = data.int_id()
            await staff_workshop(ctx)
            return Go("one")
        return None

    async def on_text(self, text: str, ctx: Ctx) -> Go:
        return Go("menu.idle")


async def open_workshop(ctx: Ctx) -> WorkshopRecord:
    workshop = await staff_workshop(ctx)
    if workshop.status != "scheduled" or workshop.ends_at <= ctx.now:
        raise Gone
    return workshop


@manage.state("one")
class ManageOne(State):
    help = N_("Change the date or the place (the people signed up are told), get the list "
              "of attendees, or cancel the workshop.")

    async def show(self, ctx: Ctx) -> Screen:
        workshop = await staff_workshop(ctx)
        counts = await ctx.uow.workshops.counts(workshop.id)
        text = describe(workshop, ctx.t, ctx.settings.default_language) + "\n\n" + ctx._(N_(
            "Signed up: {signed} · waiting: {waiting} · seat offered: {offered} · attended: "
            "{attended}")).format(signed=ctx.t.number(counts.signed_up),
                                  waiting=ctx.t.number(counts.waiting),
                                  offered=ctx.t.number(counts.offered),
                                  attended=ctx.t.number(counts.attended))
        rows = [(ctx.button("📄 " + ctx._(N_("Attendees")), "attendees"),)]
        if workshop.status == "scheduled" and workshop.ends_at > ctx.now:
            rows.insert(0, (ctx.button("📅 " + ctx._(N_("Change date")), "date"),
                            ctx.button("📍 " + ctx._(N_("Change place")), "place")))
            rows.append((ctx.button("❌ " + ctx._(N_("Cancel the workshop")), "cancel_ws"),))
        rows.append((ctx.button("⬅️ " + ctx._(N_("Back")), "back"),))
        return Screen(text, tuple(rows))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "list"

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action == "attendees":
            workshop = await staff_workshop(ctx)
            return Go(replies=(await attendees_file(workshop, ctx, sensitive=False),))
        if data.action in ("date", "place", "cancel_ws"):
            await open_workshop(ctx)
            return Go({"date": "date", "place": "place", "cancel_ws": "cancel"}[data.action])
        return None

    async def on_text(self, text: str, ctx: Ctx) -> Go:
        return stay(ctx._(N_("Please choose one of the options with the buttons.")))


async def tell_registered(workshop: WorkshopRecord, ctx: Ctx, statuses: tuple[str, ...],
                          message: str, *, with_details: bool = True) -> list[Notify]:
    """``message`` (an N_ string) to each registered person, in their language."""
    notices = []
    for person in await ctx.uow.workshops.recipients(workshop.id, statuses):
        t = translator(person.language, ctx.settings.timezone)
        text = t.gettext(message).format(workshop=title(workshop, t,
                                                        ctx.settings.default_language))
        if with_details:
            text += "\n\n" + describe(workshop, t, ctx.settings.default_language,
                                      with_seats=False)
        notices.append(Notify(person.telegram_id, text))
    return notices


async def requeue_reminders(workshop: WorkshopRecord, ctx: Ctx) -> list[Notify]:
    """Reminders still queued say the old date or place: replaced by new ones."""
    queued = []
    for person in await ctx.uow.workshops.recipients(workshop.id, ("confirmed",)):
        registration = await ctx.uow.workshops.registration(person.registration_id)
        assert registration is not None
        await ctx.uow.workshops.cancel_messages(registration.id, reminders_only=True)
        queued += reminders(workshop, registration, person.telegram_id, person.language,
                            ctx.now, ctx.settings)
    return queued


@manage.state("date")
class ChangeDate(State):
    help = N_("Write the new start as YYYY-MM-DD HH:MM, or tap “Back”.")

    async def show(self, ctx: Ctx) -> Screen:
        workshop = await open_workshop(ctx)
        text = ctx._(N_("Now: {when}. Write the new start as YYYY-MM-DD HH:MM ({zone} time), "
                        "for example {example}. The duration stays the same.")).format(
            when=when(workshop, ctx.t), zone=escape(ctx.settings.timezone),
            example=(ctx.now + timedelta(days=7)).astimezone(ctx.t.timezone).strftime(
                "%Y-%m-%d 18:00"))
        return Screen(text, (ctx.back_cancel(),))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "one"

    async def on_text(self, text: str, ctx: Ctx) -> Go:
        starts = parse_local(text, ctx.settings.timezone)
        if starts is None:
            return stay(ctx._(N_("I could not read that date. Please write it as "
                                 "YYYY-MM-DD HH:MM, for example 2026-12-01 18:00.")))
        if starts <= ctx.now:
            return stay(ctx._(N_("That moment has already passed. Please write a future date "
                                 "and time.")))
        workshop = await open_workshop(ctx)
        duration = workshop.ends_at - workshop.starts_at
        await ctx.uow.workshops.reschedule(workshop.id, starts, starts + duration, ctx.now)
        moved = await open_workshop(ctx)
        notices = await tell_registered(moved, ctx, ("confirmed", "offered", "waitlisted"),
                                        N_("📅 The date of {workshop} has changed. This is "
                                           "the new one:"))
        replies = (*notices, *await requeue_reminders(moved, ctx))
        return Go("one", replies=replies, notice="✅ " + ctx.ngettext(
            "Date changed. {count} person was told.", "Date changed. {count} people were told.",
            len(notices)).format(count=ctx.t.number(len(notices))))


@manage.state("place")
class ChangePlace(State):
    help = N_("Write the new address, or a link for an online workshop, or tap “Back”.")

    async def show(self, ctx: Ctx) -> Screen:
        await open_workshop(ctx)
        return Screen(ctx._(N_("Write the new address (up to {max} characters), or a link "
                               "(https://...) if it is online.")).format(
            max=ctx.t.number(PLACE_MAX)), (ctx.back_cancel(),))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "one"

    async def on_text(self, text: str, ctx: Ctx) -> Go:
        text = text.strip()
        if not text or len(text) > PLACE_MAX:
            return stay(ctx._(N_("Please write an address of up to {max} characters, or a "
                                 "link.")).format(max=ctx.t.number(PLACE_MAX)))
        workshop = await open_workshop(ctx)
        if is_link(text):
            await ctx.uow.workshops.move(workshop.id, None, None, text, ctx.now)
        else:
            await ctx.uow.workshops.move(workshop.id, text, map_link(text), None, ctx.now)
        moved = await open_workshop(ctx)
        notices = await tell_registered(moved, ctx, ("confirmed", "offered", "waitlisted"),
                                        N_("📍 The place of {workshop} has changed. This is "
                                           "the new one:"))
        replies = (*notices, *await requeue_reminders(moved, ctx))
        return Go("one", replies=replies, notice="✅ " + ctx.ngettext(
            "Place changed. {count} person was told.",
            "Place changed. {count} people were told.",
            len(notices)).format(count=ctx.t.number(len(notices))))


@manage.state("cancel")
class CancelWorkshop(State):
    help = N_("Tap “Yes, cancel the workshop” to cancel it, or “Back”.")

    async def show(self, ctx: Ctx) -> Screen:
        workshop = await open_workshop(ctx)
        counts = await ctx.uow.workshops.counts(workshop.id)
        people = counts.signed_up + counts.waiting + counts.offered
        text = ctx.ngettext(
            "Cancel {workshop}? {count} person signed up or waiting will be told.",
            "Cancel {workshop}? {count} people signed up or waiting will be told.",
            people).format(workshop=_name(workshop, ctx), count=ctx.t.number(people))
        return Screen(text, ((ctx.button(ctx._(N_("Yes, cancel the workshop")), "yes"),),
                             (ctx.button("⬅️ " + ctx._(N_("Back")), "back"),)))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "one"

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action != "yes":
            return None
        workshop = await open_workshop(ctx)
        told = await ctx.uow.workshops.cancel_workshop(workshop.id, ctx.now)
        notices = []
        for person in told:
            await ctx.uow.workshops.cancel_messages(person.registration_id)
            t = translator(person.language, ctx.settings.timezone)
            notices.append(Notify(person.telegram_id, "❌ " + t.gettext(N_(
                "We are sorry: the workshop {workshop} of {when} is cancelled. Your place is "
                "cancelled too; you don't need to do anything.")).format(
                workshop=title(workshop, t, ctx.settings.default_language),
                when=when(workshop, t))))
        return Go("list", replies=tuple(notices), notice="✅ " + ctx.ngettext(
            "The workshop is cancelled. {count} person was told.",
            "The workshop is cancelled. {count} people were told.",
            len(notices)).format(count=ctx.t.number(len(notices))))
