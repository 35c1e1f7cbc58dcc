"""/broadcast: staff send news or a workshop invitation to citizens who asked for it.

```mermaid
stateDiagram-v2
    [*] --> kind: /broadcast (staff)
    kind --> audience: News / Workshop invitation
    audience --> value: by lab, by language, by workshop (a picker)
    audience --> message: everyone who asked for it
    value --> message: a lab / a language
    message --> message: the next language (a message, or Skip)
    message --> button: That's all (the default language is required)
    button --> review: a button, or none (previews are sent first)
    review --> message: Change the message
    review --> done: Send (queued in bulk, once)
    done --> menu.idle: Main menu
    audience --> kind: Back
    value --> audience: Back
    message --> audience: Back
    button --> message: Back
    review --> button: Back
```

Every step has Cancel (nothing is queued before "Send").

Each language's message is the staff member's own message, formatting kept
(the transport hands its entities over as HTML). The previews are the very
text and buttons each citizen gets. Citizens whose language has no message
get the default language's one. Deliveries are outbox rows at broadcast
priority (:mod:`storage.broadcasts`), so a citizen's own conversation with
the bot is never held up behind a broadcast.

``/broadcasts`` lists the latest with their figures and pause / resume /
cancel buttons (rechecked for the role on every press).

Adding an audience (like "signed up for workshop X") is: an SQL filter in
:data:`storage.broadcasts.AUDIENCES`, a label in :data:`AUDIENCE_LABELS` and,
if it needs a value, a :class:`Picker` in :data:`PICKERS`. A button kind
(like "Sign me up", which opens a workshop's sign-up) is an entry in
:data:`BUTTON_KINDS`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from conversations import roles
from conversations.callback import CallbackData
from conversations.flow import Ctx, Flow, Go, Gone, Screen, State, global_button, stay
from conversations.i18n import (
    N_,
    Translator,
    available_languages,
    language_name,
    pick,
    translator,
)
from conversations.text import escape, reference, shorten
from conversations.vocabulary import Button, Edit, Event, Keyboard, Media, Send, keyboard
from storage.broadcasts import AUDIENCES, KINDS, BroadcastFigures, NewBroadcast, Rendered
from storage.workshops import WorkshopRecord

MESSAGE_LIMIT = 4096
LISTED = 5

broadcast = Flow("bc", entry="kind")

KIND_LABELS = {"news": N_("News"), "workshop_invitation": N_("Workshop invitation")}
KIND_CONSENT = {"news": N_("only citizens who accept news"),
                "workshop_invitation": N_("only citizens who accept workshop invitations")}
AUDIENCE_LABELS = {
    "all": N_("Everyone who asked for it"),
    "lab": N_("Those who took part in a laboratory"),
    "language": N_("Those who use one language"),
    "workshop": N_("Those signed up for a workshop"),
}
STATUS_LABELS = {
    "draft": N_("draft"),
    "queued": N_("sending"),
    "paused": N_("paused"),
    "cancelled": N_("cancelled"),
    "done": N_("finished"),
}


def ref(broadcast_id: int) -> str:
    return reference("B", broadcast_id)


# -- audience values: what a staff member picks, and how it reads ---------------

@dataclass(frozen=True)
class Picker:
    question: str  # N_ marked
    choices: Callable[[Ctx], Awaitable[list[tuple[str, str]]]]  # (label, value)
    describe: Callable[[Ctx, str], Awaitable[str]]  # the audience, in a sentence


async def _lab_choices(ctx: Ctx) -> list[tuple[str, str]]:
    return [(pick(lab.title, ctx.language, ctx.settings.default_language), str(lab.id))
            for lab in await ctx.uow.broadcasts.labs()]


async def _lab_audience(ctx: Ctx, value: str) -> str:
    lab = await ctx.uow.catalog.lab(int(value)) if value.isdigit() else None
    if lab is None:
        raise Gone
    return ctx._(N_("Those who took part in {lab}")).format(
        lab=escape(pick(lab.title, ctx.language, ctx.settings.default_language)))


async def _language_choices(ctx: Ctx) -> list[tuple[str, str]]:
    return [(language_name(code), code) for code in available_languages()]


async def _language_audience(ctx: Ctx, value: str) -> str:
    if value not in available_languages():
        raise Gone
    return ctx._(N_("Those who use {language}")).format(language=language_name(value))


#: Workshops offered as an audience: recent ones too (a follow-up to those who came).
WORKSHOPS_SINCE = timedelta(days=60)
#: At most this many workshops in a picker (the soonest first).
WORKSHOPS_LISTED = 20


def _workshop_label(ctx: Ctx, workshop: WorkshopRecord) -> str:
    return shorten(pick(workshop.title, ctx.language, ctx.settings.default_language), 40) \
        + " · " + ctx.t.date(workshop.starts_at, "short")


async def _workshop_choices(ctx: Ctx) -> list[tuple[str, str]]:
    found = [w for w in await ctx.uow.workshops.all(since=ctx.now - WORKSHOPS_SINCE)
             if w.status == "scheduled"][:WORKSHOPS_LISTED]
    return [(_workshop_label(ctx, w), str(w.id)) for w in found]


async def _workshop_audience(ctx: Ctx, value: str) -> str:
    workshop = await ctx.uow.workshops.get(int(value)) if value.isdigit() else None
    if workshop is None:
        raise Gone
    return ctx._(N_("Those signed up for {workshop}")).format(
        workshop=escape(_workshop_label(ctx, workshop)))


PICKERS: dict[str, Picker] = {
    "lab": Picker(N_("Which laboratory? Those who took part in it (an opinion, a proposal, a "
                     "rating of a proposal or a workshop sign-up) will receive the message."),
                  _lab_choices, _lab_audience),
    "language": Picker(N_("Which language?"), _language_choices, _language_audience),
    "workshop": Picker(N_("Which workshop? Those who have a seat in it (or came to it) will "
                          "receive the message."), _workshop_choices, _workshop_audience),
}


async def describe_audience(ctx: Ctx, kind: str, audience: dict[str, Any]) -> str:
    key = audience.get("key")
    found = AUDIENCES.get(str(key))
    if found is None:
        raise Gone
    who = ctx._(AUDIENCE_LABELS[found.key]) if found.needs is None \
        else await PICKERS[found.needs].describe(ctx, str(audience.get("value")))
    return f"{who} · {ctx._(KIND_CONSENT[kind])}"


# -- buttons a broadcast can carry ------------------------------------------------

@dataclass(frozen=True)
class ButtonKind:
    offer: Callable[[Ctx], Awaitable[list[tuple[str, str]]]]  # (label for staff, id)
    render: Callable[[Translator, str], Button]  # in the recipient's language
    exists: Callable[[Ctx, str], Awaitable[bool]]


async def _offer_labs(ctx: Ctx) -> list[tuple[str, str]]:
    labs = await ctx.uow.catalog.labs_open_for("opinions", ctx.now)
    return [("💬 " + ctx._(N_("Give my opinion")) + ": "
             + pick(lab.title, ctx.language, ctx.settings.default_language), str(lab.id))
            for lab in labs]


def _render_lab(t: Translator, lab_id: str) -> Button:
    return global_button(t.gettext(N_("💬 Give my opinion")), "bc", "lab", lab_id)


async def _lab_open(ctx: Ctx, lab_id: str) -> bool:
    return any(str(lab.id) == lab_id
               for lab in await ctx.uow.catalog.labs_open_for("opinions", ctx.now))


async def _offer_workshops(ctx: Ctx) -> list[tuple[str, str]]:
    found = (await ctx.uow.workshops.upcoming(ctx.now))[:WORKSHOPS_LISTED]
    return [("✍️ " + ctx._(N_("Sign me up")) + ": " + _workshop_label(ctx, w), str(w.id))
            for w in found]


def _render_workshop(t: Translator, workshop_id: str) -> Button:
    return global_button("✍️ " + t.gettext(N_("Sign me up")), "bc", "signup", workshop_id)


async def _workshop_upcoming(ctx: Ctx, workshop_id: str) -> bool:
    return any(str(w.id) == workshop_id for w in await ctx.uow.workshops.upcoming(ctx.now))


BUTTON_KINDS: dict[str, ButtonKind] = {
    "lab": ButtonKind(_offer_labs, _render_lab, _lab_open),
    "workshop": ButtonKind(_offer_workshops, _render_workshop, _workshop_upcoming),
}


def render(bodies: dict[str, str], buttons: list[dict[str, str]], timezone: str,
           order: list[str]) -> dict[str, Rendered]:
    """Each language's message exactly as its citizens get it, in ``order``
    (the stored answers may come back with their keys in any order)."""
    rendered = {}
    for language in [code for code in order if code in bodies]:
        body = bodies[language]
        t = translator(language, timezone)
        rows = [[[b.label, b.data]] for b in
                (BUTTON_KINDS[spec["kind"]].render(t, spec["id"]) for spec in buttons)]
        rendered[language] = Rendered(body, rows or None)
    return rendered


def as_keyboard(rendered: Rendered) -> Keyboard:
    return keyboard(*[[Button(label, data) for label, data in row]
                      for row in rendered.buttons or []])


# -- the wizard -------------------------------------------------------------------

@roles.staff_command("broadcast", roles.STAFF,
                     N_("Send news or a workshop invitation to citizens"))
async def start(event: Event, ctx: Ctx) -> Go:
    if not ctx.consented:  # an ADMIN_IDS admin who never accepted the privacy notice
        return Go("start.welcome")
    return Go("bc.kind")


def languages_in_order(ctx: Ctx) -> list[str]:
    default = ctx.settings.default_language
    return [default] + [code for code in available_languages() if code != default]


@broadcast.state("kind")
class ChooseKind(State):
    help = N_("News reach the citizens who accepted news; workshop invitations those who "
              "accepted workshop invitations (/notifications). Tap one.")

    async def show(self, ctx: Ctx) -> Screen:
        icons = {"news": "📰", "workshop_invitation": "📅"}
        rows = [(ctx.button(f"{icons[kind]} {ctx._(label)}", "kind", kind),)
                for kind, label in KIND_LABELS.items()]
        rows.append(ctx.back_cancel(back=False))
        return Screen("📣 " + ctx._(N_("<b>New broadcast</b>\n\nWhat are you sending?")),
                      tuple(rows))

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action != "kind" or data.id() not in KINDS:
            return None
        ctx.data["kind"] = data.id()
        return Go("audience")


@broadcast.state("audience")
class ChooseAudience(State):
    help = N_("Choose who receives the message. Whatever you choose, only citizens who "
              "accepted this kind of message receive it.")

    async def show(self, ctx: Ctx) -> Screen:
        rows = [(ctx.button(ctx._(AUDIENCE_LABELS[key]), "who", key),)
                for key in AUDIENCES if key in AUDIENCE_LABELS]
        rows.append(ctx.back_cancel())
        return Screen(ctx._(N_("Who should receive it?")), tuple(rows))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "kind"

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        found = AUDIENCES.get(data.id() or "") if data.action == "who" else None
        if found is None or found.key not in AUDIENCE_LABELS:
            return None
        if found.needs and not await PICKERS[found.needs].choices(ctx):
            return stay(ctx._(N_("There is nothing to choose from for that yet. Please choose "
                                 "another audience.")))
        ctx.data["audience"] = {"key": found.key, "value": None}
        return Go("value" if found.needs else "message", carry={"language_index": 0})


@broadcast.state("value")
class ChooseValue(State):
    help = N_("Tap one of the options to narrow down who receives the message.")

    def _picker(self, ctx: Ctx) -> Picker:
        found = AUDIENCES.get(str(ctx.data.get("audience", {}).get("key")))
        if found is None or found.needs not in PICKERS:
            raise Gone
        return PICKERS[found.needs]

    async def show(self, ctx: Ctx) -> Screen:
        picker = self._picker(ctx)
        choices = await picker.choices(ctx)
        if not choices:
            raise Gone
        rows = [(ctx.button(label, "pick", value),) for label, value in choices]
        rows.append(ctx.back_cancel())
        return Screen(ctx._(picker.question), tuple(rows))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "audience"

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action != "pick":
            return None
        picker = self._picker(ctx)
        if data.id() not in [value for _, value in await picker.choices(ctx)]:
            return Go(answer=ctx._(N_("This button has expired.")))
        ctx.data["audience"]["value"] = data.id()
        return Go("message", carry={"language_index": 0})


@broadcast.state("message")
class WriteMessage(State):
    help = N_("Send the message as you want citizens to see it: bold, italics and links "
              "are kept. One message per language; the default language is required, the "
              "others are optional (citizens without their language get the default one).")

    def _language(self, ctx: Ctx) -> str:
        order = languages_in_order(ctx)
        index = min(max(int(ctx.data.get("language_index", 0)), 0), len(order) - 1)
        return order[index]

    async def show(self, ctx: Ctx) -> Screen:
        language = self._language(ctx)
        bodies = ctx.data.get("bodies", {})
        if language == ctx.settings.default_language:
            text = ctx._(N_("Send the message in <b>{language}</b> (required). It goes out "
                            "exactly as you write it, formatting included; up to {max} "
                            "characters."))
            rows = []
        else:
            text = ctx._(N_("Send the message in <b>{language}</b>, or tap “Skip”: those "
                            "who use {language} then get the message in {default}."))
            rows = [(ctx.button(ctx._(N_("Skip")) + " ➡️", "skip"),)]
            rows.append((ctx.button("✅ " + ctx._(N_("That's all, continue")), "enough"),))
        text = text.format(language=language_name(language), max=ctx.t.number(MESSAGE_LIMIT),
                           default=language_name(ctx.settings.default_language))
        if language in bodies:
            text += "\n\n" + ctx._(N_("(You already sent one for this language: a new "
                                      "message replaces it.)"))
            rows.insert(0, (ctx.button(ctx._(N_("Keep it")) + " ➡️", "keep"),))
        rows.append(ctx.back_cancel())
        return Screen("✍️ " + text, tuple(rows))

    async def back_to(self, ctx: Ctx) -> str | None:
        index = int(ctx.data.get("language_index", 0))
        if index > 0:
            ctx.data["language_index"] = index - 1
            return "message"
        return "audience"

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        language = self._language(ctx)
        if data.action == "skip" and language != ctx.settings.default_language:
            ctx.data.setdefault("bodies", {}).pop(language, None)
            return self._next(ctx)
        if data.action == "keep" and language in ctx.data.get("bodies", {}):
            return self._next(ctx)
        if data.action == "enough" and ctx.settings.default_language in ctx.data.get(
                "bodies", {}):
            return Go("button")
        return None

    async def on_text(self, text: str, ctx: Ctx) -> Go:
        if not text.strip():
            return stay(ctx._(N_("The message is empty. Please write the message.")))
        if len(text) > MESSAGE_LIMIT:
            return stay(ctx._(N_("Your message has {length} characters and the limit is "
                                 "{max}. Please shorten it and send it again.")).format(
                length=ctx.t.number(len(text)), max=ctx.t.number(MESSAGE_LIMIT)))
        # The formatting as the transport saw it; a channel without any
        # (the console) gives plain text, shown as typed.
        body = ctx.event.html if ctx.event.html is not None else escape(text)
        ctx.data.setdefault("bodies", {})[self._language(ctx)] = body.strip()
        return self._next(ctx)

    async def on_media(self, media: Media, ctx: Ctx) -> Go:
        return stay(ctx._(N_("A broadcast can only be a text message for now. Please send "
                             "the message as text (links are welcome).")))

    def _next(self, ctx: Ctx) -> Go:
        index = int(ctx.data.get("language_index", 0)) + 1
        if index >= len(languages_in_order(ctx)):
            return Go("button")
        ctx.data["language_index"] = index
        return Go("message")


@broadcast.state("button")
class ChooseButton(State):
    help = N_("A button under the message lets citizens act on it in one tap. Choose one, "
              "or “No button”.")

    async def show(self, ctx: Ctx) -> Screen:
        rows = []
        for kind, found in BUTTON_KINDS.items():
            for label, item in await found.offer(ctx):
                rows.append((ctx.button(label, "add", kind, item),))
        rows.append((ctx.button(ctx._(N_("No button")), "none"),))
        rows.append(ctx.back_cancel())
        return Screen(ctx._(N_("Add a button under the message?")), tuple(rows))

    async def back_to(self, ctx: Ctx) -> str | None:
        ctx.data["language_index"] = len(languages_in_order(ctx)) - 1
        return "message"

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action == "none":
            ctx.data["buttons"] = []
            return await self._review(ctx)
        kind, item = data.id(0), data.id(1)
        if data.action != "add" or kind not in BUTTON_KINDS or item is None:
            return None
        if not await BUTTON_KINDS[kind].exists(ctx, item):
            return Go(answer=ctx._(N_("This button has expired.")))
        ctx.data["buttons"] = [{"kind": kind, "id": item}]
        return await self._review(ctx)

    async def _review(self, ctx: Ctx) -> Go:
        # The previews, then the review as a new message under them (an edit
        # of this step's message would leave "Send" above the previews).
        ctx.flow = broadcast.name
        screen = await broadcast.states["review"].show(ctx)
        return Go("review", show=False,
                  replies=(*previews(ctx), Send(screen.text, screen.buttons)))


def previews(ctx: Ctx) -> tuple[Send, ...]:
    """Each language's message, as its citizens will see it, under a heading."""
    replies: list[Send] = []
    for language, message in render(ctx.data["bodies"], ctx.data.get("buttons", []),
                                    ctx.settings.timezone, languages_in_order(ctx)).items():
        replies.append(Send("👁 " + ctx._(N_("Preview in {language}:")).format(
            language=language_name(language))))
        replies.append(Send(message.body, as_keyboard(message)))
    return tuple(replies)


async def recipients_by_body(ctx: Ctx) -> dict[str, int]:
    """How many citizens get each language's message."""
    audience = ctx.data["audience"]
    counts = await ctx.uow.broadcasts.count(ctx.data["kind"], audience["key"],
                                            audience.get("value"))
    bodies = ctx.data["bodies"]
    default = ctx.settings.default_language
    by_body = {language: counts.get(language, 0) for language in bodies if language != default}
    by_body[default] = sum(counts.values()) - sum(by_body.values())
    return {language: by_body[language] for language in languages_in_order(ctx)
            if language in bodies}


@broadcast.state("review")
class Review(State):
    help = N_("Check the previews above: that is exactly what citizens will get. Tap “Send” "
              "to queue it, or change the message first.")

    async def show(self, ctx: Ctx) -> Screen:
        if ctx.settings.default_language not in ctx.data.get("bodies", {}):
            raise Gone
        kind = ctx.data["kind"]
        counts = await recipients_by_body(ctx)
        total = sum(counts.values())
        lines = ["📣 <b>" + ctx._(N_("Your broadcast")) + "</b>", "",
                 ctx._(N_("Kind: {kind}")).format(kind=ctx._(KIND_LABELS[kind])),
                 ctx._(N_("Audience: {audience}")).format(
                     audience=await describe_audience(ctx, kind, ctx.data["audience"])),
                 ctx.ngettext("Recipients: {count} citizen", "Recipients: {count} citizens",
                              total).format(count=ctx.t.number(total))]
        lines += [f"  • {language_name(code)}: {ctx.t.number(n)}" for code, n in counts.items()]
        rows: list[tuple[Button, ...]] = []
        if total:
            rows.append((ctx.button("✅ " + ctx.ngettext(
                "Send to {count} citizen", "Send to {count} citizens", total).format(
                count=ctx.t.number(total)), "send", total),))
        else:
            lines += ["", ctx._(N_("Nobody would receive it: nobody in this audience accepts "
                                   "this kind of message. Go back to choose another "
                                   "audience."))]
        rows.append((ctx.button("✏️ " + ctx._(N_("Change the message")), "edit"),))
        rows.append(ctx.back_cancel())
        return Screen("\n".join(lines), tuple(rows))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "button"

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action == "edit":
            return Go("message", carry={"language_index": 0})
        if data.action != "send":
            return None
        assert ctx.citizen is not None
        for spec in ctx.data.get("buttons", []):
            if not await BUTTON_KINDS[spec["kind"]].exists(ctx, spec["id"]):
                raise Gone
        new = NewBroadcast(kind=ctx.data["kind"], created_by=ctx.citizen.id,
                           audience=ctx.data["audience"], bodies=ctx.data["bodies"],
                           buttons=ctx.data.get("buttons", []),
                           default_language=ctx.settings.default_language)
        broadcast_id, queued = await ctx.uow.broadcasts.queue(
            new, render(new.bodies, new.buttons, ctx.settings.timezone,
                        languages_in_order(ctx)), ctx.now)
        ctx.state.data = {"broadcast_id": broadcast_id, "queued": queued}
        return Go("done", answer=ctx._(N_("Queued.")))


@broadcast.state("done")
class Done(State):
    help = N_("Your broadcast is queued. /broadcasts shows how it is going, and lets you "
              "pause or cancel it.")

    async def show(self, ctx: Ctx) -> Screen:
        queued = int(ctx.data.get("queued", 0))
        text = ctx.ngettext(
            "📣 Broadcast <b>{ref}</b> is queued for {count} citizen. It goes out at the pace "
            "Telegram allows, after the bot's replies to citizens. /broadcasts shows how it "
            "is going.",
            "📣 Broadcast <b>{ref}</b> is queued for {count} citizens. It goes out at the pace "
            "Telegram allows, after the bot's replies to citizens. /broadcasts shows how it "
            "is going.", queued).format(ref=ref(int(ctx.data.get("broadcast_id", 0))),
                                        count=ctx.t.number(queued))
        return Screen(text, ((ctx.button(ctx._(N_("Main menu")), "menu"),),))

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        return Go("menu.idle") if data.action == "menu" else None

    async def on_text(self, text: str, ctx: Ctx) -> Go:
        return Go("menu.idle")


# -- what a citizen's button does ------------------------------------------------

@broadcast.action("lab")
async def give_opinion(data: CallbackData, ctx: Ctx) -> Go:
    from conversations.flows.opinion import open_lab

    if not ctx.consented:
        return Go("start.welcome")
    lab = await ctx.uow.catalog.lab(data.int_id() or -1)
    if lab is None:
        raise Gone
    return await open_lab(lab.slug, ctx)


@broadcast.action("signup")
async def sign_me_up(data: CallbackData, ctx: Ctx) -> Go:
    """"Sign me up" under an invitation: that workshop's sign-up, if it is still
    upcoming (else "no longer available" and the menu)."""
    from conversations.flows.workshops import sign_up_from_invitation

    if not ctx.consented:
        return Go("start.welcome")
    return await sign_up_from_invitation(ctx, data.int_id())


# -- /broadcasts: figures and control ----------------------------------------------

@roles.staff_command("broadcasts", roles.STAFF,
                     N_("How the latest broadcasts are going; pause, resume or cancel"))
async def list_broadcasts(event: Event, ctx: Ctx) -> Go:
    text, buttons = await overview(ctx)
    return Go(show=False, replies=(Send(text, buttons),))


async def overview(ctx: Ctx) -> tuple[str, Keyboard]:
    found = await ctx.uow.broadcasts.latest(LISTED, ctx.now)
    if not found:
        return ctx._(N_("No broadcast has been sent yet. /broadcast starts one.")), ()
    parts, rows = [], []
    for figures in found:
        parts.append(await describe(ctx, figures))
        if figures.status == "queued":
            rows.append((global_button("⏸ " + ctx._(N_("Pause {ref}")).format(
                ref=ref(figures.id)), "bc", "pause", figures.id),
                global_button("✖️ " + ctx._(N_("Cancel {ref}")).format(
                    ref=ref(figures.id)), "bc", "ask_stop", figures.id)))
        elif figures.status == "paused":
            rows.append((global_button("▶️ " + ctx._(N_("Resume {ref}")).format(
                ref=ref(figures.id)), "bc", "resume", figures.id),
                global_button("✖️ " + ctx._(N_("Cancel {ref}")).format(
                    ref=ref(figures.id)), "bc", "ask_stop", figures.id)))
    rows.append((global_button("🔄 " + ctx._(N_("Refresh")), "bc", "list"),))
    return "\n\n".join(parts), keyboard(*rows)


async def describe(ctx: Ctx, figures: BroadcastFigures) -> str:
    try:
        audience = await describe_audience(ctx, figures.kind, figures.audience)
    except Gone:
        audience = ctx._(N_("(an audience that no longer exists)"))
    lines = [
        f"<b>{ref(figures.id)}</b> · {ctx._(KIND_LABELS[figures.kind])} · "
        f"{ctx._(STATUS_LABELS[figures.status])}",
        audience,
        ctx._(N_("Queued: {queued} · Sent: {sent} · Failed: {failed} · Blocked: {blocked}")
              ).format(queued=ctx.t.number(figures.queued), sent=ctx.t.number(figures.sent),
                       failed=ctx.t.number(figures.failed),
                       blocked=ctx.t.number(figures.blocked)),
    ]
    if figures.cancelled:
        lines.append(ctx._(N_("Cancelled before sending: {count}")).format(
            count=ctx.t.number(figures.cancelled)))
    if figures.status == "queued":
        rate = ctx._(N_("Rate: {rate} messages a second")).format(
            rate=ctx.t.number(round(figures.rate, 1)))
        end = ctx._(N_("expected end: {when}")).format(when=ctx.t.datetime(
            figures.expected_end)) if figures.expected_end else ctx._(
            N_("expected end: not known yet"))
        lines.append(f"{rate} · {end}")
    elif figures.finished_at is not None:
        lines.append(ctx._(N_("Finished: {when}")).format(
            when=ctx.t.datetime(figures.finished_at)))
    return "\n".join(lines)


async def _staff(ctx: Ctx) -> bool:
    return roles.includes(await roles.role_of(ctx), roles.STAFF)


def _expired(ctx: Ctx) -> Go:
    return Go(answer=ctx._(N_("This button has expired.")), show=False)


async def _refreshed(ctx: Ctx, answer: str) -> Go:
    text, buttons = await overview(ctx)
    return Go(answer=answer, show=False, replies=(Edit(text, buttons),))


REFUSALS = {
    "missing": N_("There is no broadcast {ref}."),
    "paused": N_("{ref} is already paused."),
    "queued": N_("{ref} is not paused."),
    "cancelled": N_("{ref} was cancelled already."),
    "done": N_("{ref} has finished already."),
    "draft": N_("{ref} was never sent."),
}


@broadcast.action("list")
async def refresh(data: CallbackData, ctx: Ctx) -> Go:
    if not await _staff(ctx):
        return _expired(ctx)
    return await _refreshed(ctx, ctx._(N_("Updated.")))


async def _control(data: CallbackData, ctx: Ctx, verb: str, done: str) -> Go:
    if not await _staff(ctx) or data.int_id() is None:
        return _expired(ctx)
    broadcast_id = int(data.int_id() or 0)
    act = getattr(ctx.uow.broadcasts, verb)
    refused = await act(broadcast_id, ctx.now)
    if refused is not None:
        answer = ctx._(REFUSALS.get(refused, REFUSALS["missing"])).format(ref=ref(broadcast_id))
    else:
        answer = ctx._(done).format(ref=ref(broadcast_id))
    return await _refreshed(ctx, answer)


@broadcast.action("pause")
async def pause(data: CallbackData, ctx: Ctx) -> Go:
    return await _control(data, ctx, "pause", N_("{ref} is paused. Nothing is lost: "
                                                 "resume it when you want."))


@broadcast.action("resume")
async def resume(data: CallbackData, ctx: Ctx) -> Go:
    return await _control(data, ctx, "resume", N_("{ref} is sending again."))


@broadcast.action("ask_stop")
async def ask_cancel(data: CallbackData, ctx: Ctx) -> Go:
    if not await _staff(ctx) or data.int_id() is None:
        return _expired(ctx)
    figures = await ctx.uow.broadcasts.figures(int(data.int_id() or 0), ctx.now)
    if figures is None or not figures.open:
        return await _refreshed(ctx, ctx._(N_("That broadcast is not being sent any more.")))
    text = ctx.ngettext(
        "Cancel {ref}? The {count} message not sent yet will not be sent. This cannot be "
        "undone.",
        "Cancel {ref}? The {count} messages not sent yet will not be sent. This cannot be "
        "undone.", figures.queued).format(ref=ref(figures.id),
                                          count=ctx.t.number(figures.queued))
    buttons = keyboard(
        [global_button(ctx._(N_("Yes, cancel it")), "bc", "stop", figures.id)],
        [global_button(ctx._(N_("No, keep sending")), "bc", "list")])
    return Go(show=False, replies=(Edit(text, buttons),))


@broadcast.action("stop")
async def cancel(data: CallbackData, ctx: Ctx) -> Go:
    return await _control(data, ctx, "cancel", N_("{ref} is cancelled: nothing more of it "
                                                  "will be sent."))
