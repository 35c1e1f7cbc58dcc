"""/newworkshop: staff create a workshop step by step, then confirm.

```mermaid
stateDiagram-v2
    [*] --> lab: /newworkshop
    lab --> title --> description --> start --> duration --> place --> capacity
    capacity --> questions
    questions --> kind: Add a question
    kind --> prompt --> options: a choice
    kind --> prompt --> sensitive: a short text
    options --> sensitive
    sensitive --> questions
    questions --> confirm: No more questions
    confirm --> menu.idle: Create
```

Texts are stored in the language the staff member writes in; citizens with
another language see them through the usual fallback (:func:`pick`).
Every step has Back and Cancel; nothing is stored before "Create".
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta

from conversations import roles
from conversations.callback import CallbackData
from conversations.flow import Ctx, Flow, Go, Gone, Screen, State, stay
from conversations.flows.workshop_staff import is_link, map_link, parse_local
from conversations.i18n import N_, pick
from conversations.text import escape, shorten
from conversations.vocabulary import Event
from conversations.workshop_notices import describe
from storage.workshops import NewQuestion, NewWorkshop, WorkshopRecord

wizard = Flow("wsnew", entry="lab")

TITLE_MAX = 200
DESCRIPTION_MAX = 3000
PLACE_MAX = 300
PROMPT_MAX = 200
OPTION_MAX = 60
OPTIONS = (2, 8)
QUESTIONS_MAX = 5
CAPACITY_MAX = 10_000
DURATIONS = (60, 90, 120, 180)
PRESET_DAYS = (1, 7, 14)
PRESET_TIME = (18, 0)


@roles.staff_command("newworkshop", roles.STAFF, N_("Create a workshop"))
async def new_workshop(event: Event, ctx: Ctx) -> Go:
    if not await ctx.uow.workshops.labs():
        return stay(ctx._(N_("There is no laboratory yet. Import one first (participa "
                             "import).")))
    return Go("wsnew.lab", carry={"questions": []})


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:40] or "taller"


async def free_slug(ctx: Ctx, title: str, starts: datetime) -> str:
    base = f"{slugify(title)}-{starts.astimezone(ctx.t.timezone):%Y%m%d}"
    slug, n = base, 2
    while await ctx.uow.workshops.by_slug(slug) is not None:
        slug, n = f"{base}-{n}", n + 1
    return slug


def _too_long(ctx: Ctx, text: str, limit: int) -> Go:
    return stay(ctx._(N_("That text has {length} characters and the limit is {max}. Please "
                         "shorten it.")).format(length=ctx.t.number(len(text)),
                                                max=ctx.t.number(limit)))


def _empty(ctx: Ctx) -> Go:
    return stay(ctx._(N_("The message is empty. Please write it again.")))


@wizard.state("lab")
class Lab(State):
    help = N_("Tap the laboratory the workshop belongs to.")

    async def show(self, ctx: Ctx) -> Screen:
        labs = await ctx.uow.workshops.labs()
        rows = [(ctx.button(shorten(pick(t, ctx.language, ctx.settings.default_language), 60),
                            "lab", lab_id),) for lab_id, _, t in labs]
        rows.append(ctx.back_cancel(back=False))
        return Screen(ctx._(N_("New workshop. Which laboratory is it for?")), tuple(rows))

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action != "lab":
            return None
        if data.int_id() not in [lab_id for lab_id, _, _ in await ctx.uow.workshops.labs()]:
            raise Gone
        ctx.data["lab_id"] = data.int_id()
        return Go("title")


@wizard.state("title")
class Title(State):
    help = N_("Write the workshop's title, as citizens will see it.")

    async def show(self, ctx: Ctx) -> Screen:
        return Screen(ctx._(N_("Write the title (up to {max} characters).")).format(
            max=ctx.t.number(TITLE_MAX)), (ctx.back_cancel(),))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "lab"

    async def on_text(self, text: str, ctx: Ctx) -> Go:
        text = " ".join(text.split())
        if not text:
            return _empty(ctx)
        if len(text) > TITLE_MAX:
            return _too_long(ctx, text, TITLE_MAX)
        ctx.data["title"] = text
        return Go("description")


@wizard.state("description")
class Description(State):
    help = N_("Write what the workshop is about, or tap “Skip”.")

    async def show(self, ctx: Ctx) -> Screen:
        return Screen(ctx._(N_("Write a short description (up to {max} characters), or tap "
                               "“Skip”.")).format(max=ctx.t.number(DESCRIPTION_MAX)),
                      ((ctx.button(ctx._(N_("Skip")) + " ➡️", "skip"),), ctx.back_cancel()))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "title"

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action != "skip":
            return None
        ctx.data["description"] = ""
        return Go("start")

    async def on_text(self, text: str, ctx: Ctx) -> Go:
        text = text.strip()
        if not text:
            return _empty(ctx)
        if len(text) > DESCRIPTION_MAX:
            return _too_long(ctx, text, DESCRIPTION_MAX)
        ctx.data["description"] = text
        return Go("start")


def _preset(ctx: Ctx, days: int) -> datetime:
    local = (ctx.now + timedelta(days=days)).astimezone(ctx.t.timezone)
    return local.replace(hour=PRESET_TIME[0], minute=PRESET_TIME[1], second=0, microsecond=0)


@wizard.state("start")
class Start(State):
    help = N_("Tap one of the proposed dates or write the start as YYYY-MM-DD HH:MM.")

    async def show(self, ctx: Ctx) -> Screen:
        text = ctx._(N_("When does it start? Write it as YYYY-MM-DD HH:MM ({zone} time), or "
                        "tap one of these:")).format(zone=escape(ctx.settings.timezone))
        rows = [(ctx.button(ctx.t.datetime(_preset(ctx, days), "short"), "preset", days),)
                for days in PRESET_DAYS]
        rows.append(ctx.back_cancel())
        return Screen(text, tuple(rows))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "description"

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action != "preset" or data.int_id() not in PRESET_DAYS:
            return None
        return self._chosen(_preset(ctx, data.int_id() or 1), ctx)

    async def on_text(self, text: str, ctx: Ctx) -> Go:
        starts = parse_local(text, ctx.settings.timezone)
        if starts is None:
            return stay(ctx._(N_("I could not read that date. Please write it as "
                                 "YYYY-MM-DD HH:MM, for example 2026-12-01 18:00.")))
        return self._chosen(starts, ctx)

    def _chosen(self, starts: datetime, ctx: Ctx) -> Go:
        if starts <= ctx.now:
            return stay(ctx._(N_("That moment has already passed. Please write a future date "
                                 "and time.")))
        ctx.data["starts_at"] = starts.isoformat()
        return Go("duration")


@wizard.state("duration")
class Duration(State):
    help = N_("Tap how long it lasts, or write the minutes.")

    async def show(self, ctx: Ctx) -> Screen:
        buttons = tuple(ctx.button(ctx.ngettext("{count} minute", "{count} minutes", m).format(
            count=ctx.t.number(m)), "min", m) for m in DURATIONS)
        return Screen(ctx._(N_("How long does it last? Tap or write the minutes.")),
                      (buttons[:2], buttons[2:], ctx.back_cancel()))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "start"

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        return self._chosen(data.int_id(), ctx) if data.action == "min" else None

    async def on_text(self, text: str, ctx: Ctx) -> Go:
        value = text.strip()
        return self._chosen(int(value) if value.isdigit() and len(value) < 5 else None, ctx)

    def _chosen(self, minutes: int | None, ctx: Ctx) -> Go:
        if minutes is None or not 15 <= minutes <= 720:
            return stay(ctx._(N_("Please write a number of minutes between 15 and 720.")))
        ctx.data["minutes"] = minutes
        return Go("place")


@wizard.state("place")
class Place(State):
    help = N_("Write the address, or a link if the workshop is online.")

    async def show(self, ctx: Ctx) -> Screen:
        return Screen(ctx._(N_("Where? Write the address (up to {max} characters), or a link "
                               "(https://...) if it is online.")).format(
            max=ctx.t.number(PLACE_MAX)), (ctx.back_cancel(),))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "duration"

    async def on_text(self, text: str, ctx: Ctx) -> Go:
        text = text.strip()
        if not text:
            return _empty(ctx)
        if len(text) > PLACE_MAX:
            return _too_long(ctx, text, PLACE_MAX)
        ctx.data["place"] = text
        return Go("capacity")


@wizard.state("capacity")
class Capacity(State):
    help = N_("Write how many people fit, as a number.")

    async def show(self, ctx: Ctx) -> Screen:
        return Screen(ctx._(N_("How many seats are there? Write a number.")),
                      (ctx.back_cancel(),))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "place"

    async def on_text(self, text: str, ctx: Ctx) -> Go:
        value = text.strip()
        seats = int(value) if value.isdigit() and len(value) < 7 else 0
        if not 1 <= seats <= CAPACITY_MAX:
            return stay(ctx._(N_("Please write a number of seats between 1 and {max}.")).format(
                max=ctx.t.number(CAPACITY_MAX)))
        ctx.data["capacity"] = seats
        return Go("questions")


def _question_lines(ctx: Ctx) -> list[str]:
    lines = []
    for n, question in enumerate(ctx.data.get("questions") or [], start=1):
        kind = ctx._(N_("choice")) if question["kind"] == "choice" else ctx._(N_("short text"))
        line = f"{n}. {escape(question['prompt'])} ({kind})"
        if question["options"]:
            line += ": " + ", ".join(escape(o) for o in question["options"])
        if question["sensitive"]:
            line += " 🔒"
        lines.append(line)
    return lines


@wizard.state("questions")
class Questions(State):
    help = N_("Add a question for the people signing up, or tap “No more questions”.")

    async def show(self, ctx: Ctx) -> Screen:
        lines = [ctx._(N_("Do you want to ask something when people sign up (optional, up to "
                          "{max} questions)?")).format(max=ctx.t.number(QUESTIONS_MAX))]
        lines += _question_lines(ctx)
        rows = []
        if len(ctx.data.get("questions") or []) < QUESTIONS_MAX:
            rows.append((ctx.button("➕ " + ctx._(N_("Add a question")), "add"),))
        rows.append((ctx.button(ctx._(N_("No more questions")) + " ➡️", "next"),))
        rows.append(ctx.back_cancel())
        return Screen("\n".join(lines), tuple(rows))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "capacity"

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action == "add" and len(ctx.data.get("questions") or []) < QUESTIONS_MAX:
            ctx.data["draft"] = {"kind": "text", "prompt": "", "options": [],
                                 "sensitive": False}
            return Go("kind")
        if data.action == "next":
            return Go("confirm")
        return None


@wizard.state("kind")
class Kind(State):
    help = N_("Tap whether people choose among options or write a short text.")

    async def show(self, ctx: Ctx) -> Screen:
        return Screen(ctx._(N_("What kind of question?")), (
            (ctx.button(ctx._(N_("Choose among options")), "choice"),
             ctx.button(ctx._(N_("Short text")), "text")), ctx.back_cancel()))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "questions"

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action not in ("choice", "text"):
            return None
        ctx.data["draft"]["kind"] = data.action
        return Go("prompt")


@wizard.state("prompt")
class Prompt(State):
    help = N_("Write the question as people will read it.")

    async def show(self, ctx: Ctx) -> Screen:
        return Screen(ctx._(N_("Write the question (up to {max} characters).")).format(
            max=ctx.t.number(PROMPT_MAX)), (ctx.back_cancel(),))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "kind"

    async def on_text(self, text: str, ctx: Ctx) -> Go:
        text = " ".join(text.split())
        if not text:
            return _empty(ctx)
        if len(text) > PROMPT_MAX:
            return _too_long(ctx, text, PROMPT_MAX)
        ctx.data["draft"]["prompt"] = text
        return Go("options" if ctx.data["draft"]["kind"] == "choice" else "sensitive")


@wizard.state("options")
class Options(State):
    help = N_("Write the options, one per line.")

    async def show(self, ctx: Ctx) -> Screen:
        return Screen(ctx._(N_("Write the options, one per line (from {min} to {max}, each up "
                               "to {chars} characters).")).format(
            min=ctx.t.number(OPTIONS[0]), max=ctx.t.number(OPTIONS[1]),
            chars=ctx.t.number(OPTION_MAX)), (ctx.back_cancel(),))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "prompt"

    async def on_text(self, text: str, ctx: Ctx) -> Go:
        options = [" ".join(line.split()) for line in text.splitlines() if line.strip()]
        if not OPTIONS[0] <= len(options) <= OPTIONS[1] or \
                any(len(o) > OPTION_MAX for o in options) or len(set(options)) != len(options):
            return stay(ctx._(N_("Please write from {min} to {max} different options, one per "
                                 "line, each up to {chars} characters.")).format(
                min=ctx.t.number(OPTIONS[0]), max=ctx.t.number(OPTIONS[1]),
                chars=ctx.t.number(OPTION_MAX)))
        ctx.data["draft"]["options"] = options
        return Go("sensitive")


@wizard.state("sensitive")
class Sensitive(State):
    help = N_("Tap “Yes, sensitive” for health or accessibility questions.")

    async def show(self, ctx: Ctx) -> Screen:
        return Screen(ctx._(N_("Is it sensitive (health, disability, accessibility needs)? "
                               "Sensitive answers are kept apart, left out of the attendee "
                               "list unless asked for, and deleted after the workshop.")),
                      ((ctx.button("🔒 " + ctx._(N_("Yes, sensitive")), "yes"),
                        ctx.button(ctx._(N_("No")), "no")), ctx.back_cancel()))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "options" if ctx.data["draft"]["kind"] == "choice" else "prompt"

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action not in ("yes", "no"):
            return None
        draft = dict(ctx.data.pop("draft"), sensitive=data.action == "yes")
        ctx.data["questions"] = [*(ctx.data.get("questions") or []), draft]
        return Go("questions")


def _draft(ctx: Ctx, slug: str) -> NewWorkshop:
    language = ctx.language
    starts = datetime.fromisoformat(ctx.data["starts_at"])
    place = ctx.data["place"]
    online = is_link(place)
    return NewWorkshop(
        slug=slug, lab_id=int(ctx.data["lab_id"]), title={language: ctx.data["title"]},
        description={language: ctx.data["description"]} if ctx.data.get("description") else {},
        starts_at=starts, ends_at=starts + timedelta(minutes=int(ctx.data["minutes"])),
        capacity=int(ctx.data["capacity"]), place=None if online else place,
        map_url=None if online else map_link(place), online_url=place if online else None,
        questions=tuple(NewQuestion(q["kind"], {language: q["prompt"]},
                                    [{language: o} for o in q["options"]], q["sensitive"])
                        for q in ctx.data.get("questions") or []))


@wizard.state("confirm")
class Confirm(State):
    help = N_("Check the workshop and tap “Create”, or go back to change something.")

    async def show(self, ctx: Ctx) -> Screen:
        new = _draft(ctx, "")
        preview = WorkshopRecord(0, "", new.lab_id, new.title, new.description, new.starts_at,
                                 new.ends_at, new.place, new.map_url, new.online_url,
                                 new.capacity, 0, "scheduled")
        lines = ["<b>" + ctx._(N_("Check the new workshop")) + "</b>", "",
                 describe(preview, ctx.t, ctx.settings.default_language,
                          with_description=True)]
        lines.append(ctx.ngettext("{count} minute", "{count} minutes",
                                  int(ctx.data["minutes"])).format(
            count=ctx.t.number(int(ctx.data["minutes"]))))
        lines += _question_lines(ctx)
        return Screen("\n".join(lines), ((ctx.button("✅ " + ctx._(N_("Create")), "create"),),
                                         ctx.back_cancel()))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "questions"

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action != "create":
            return None
        starts = datetime.fromisoformat(ctx.data["starts_at"])
        if starts <= ctx.now:
            return Go("start", notice=ctx._(N_("That moment has already passed. Please write "
                                               "a future date and time.")))
        slug = await free_slug(ctx, ctx.data["title"], starts)
        if await ctx.uow.workshops.create(_draft(ctx, slug), ctx.now) is None:
            raise Gone
        notice = "✅ " + ctx._(N_("The workshop is created with the code {code}. Citizens see "
                                 "it under “Workshops” while its laboratory's workshop phase "
                                 "is open.")).format(code=f"<code>{escape(slug)}</code>")
        return Go("menu.idle", notice=notice)
