"""Give my opinion: lab → service → rating → why → review → sent.

```mermaid
stateDiagram-v2
    [*] --> lab: Give my opinion (more than one lab open)
    [*] --> service: only one lab open, or /start lab-SLUG
    lab --> service: a lab
    service --> service: Previous / Next page
    service --> rate: a service
    rate --> comment: 1-5 (tap or type)
    comment --> review: text, voice note, photo or Skip
    review --> rate: Change rating
    review --> comment: Change comment
    review --> review: I'd like an answer (tick / untick)
    review --> done: Send (the opinion is committed first; a ticket too when ticked)
    done --> service: Another service
    done --> menu.idle: Main menu
    service --> lab: Back
    rate --> service: Back
    comment --> rate: Back
    review --> comment: Back
```

Every step also has Cancel (nothing saved) and works with /help.
"""

from __future__ import annotations

import math

from conversations.callback import CallbackData
from conversations.flow import Ctx, Flow, Go, Gone, Screen, State, deep_link, stay
from conversations.flows import tickets
from conversations.flows.menu import journey
from conversations.i18n import N_, pick
from conversations.text import escape, reference, stars
from conversations.vocabulary import Media
from storage.records import LabRecord, NewOpinion, ServiceRecord

PHASE = "opinions"
ACCEPTED_MEDIA = ("voice", "photo")

opinion = Flow("op", entry="lab")


@journey("op", N_("💬 Give my opinion"))
async def start(ctx: Ctx) -> Go:
    labs = await ctx.uow.catalog.labs_open_for(PHASE, ctx.now)
    if not labs:
        return stay(ctx._(N_("No citizen laboratory is taking opinions right now. "
                             "Thank you for your interest!")))
    if len(labs) == 1:
        return Go("op.service", carry={"lab_id": labs[0].id, "single_lab": True})
    return Go("op.lab")


@deep_link("lab")
async def open_lab(slug: str, ctx: Ctx) -> Go:
    lab = next((lab for lab in await ctx.uow.catalog.labs_open_for(PHASE, ctx.now)
                if lab.slug == slug), None)
    if lab is None:
        return Go("menu.idle", notice=ctx._(N_("That laboratory is not taking opinions now.")))
    return Go("op.service", carry={"lab_id": lab.id, "single_lab": True})


async def current_lab(ctx: Ctx) -> LabRecord:
    """The chosen lab, still open for opinions (rechecked at every step)."""
    lab_id = ctx.data.get("lab_id")
    for lab in await ctx.uow.catalog.labs_open_for(PHASE, ctx.now):
        if lab.id == lab_id:
            return lab
    raise Gone


async def current_service(ctx: Ctx) -> ServiceRecord:
    lab = await current_lab(ctx)
    service = await ctx.uow.catalog.service(ctx.data.get("service_id", -1))
    if service is None or service.lab_id != lab.id:
        raise Gone
    return service


@opinion.state("lab")
class ChooseLab(State):
    help = N_("Each citizen laboratory is about one public service area. Tap the one you "
              "want to give your opinion on.")

    async def show(self, ctx: Ctx) -> Screen:
        labs = await ctx.uow.catalog.labs_open_for(PHASE, ctx.now)
        if not labs:
            raise Gone
        rows = [(ctx.button(pick(lab.title, ctx.language), "lab", lab.id),) for lab in labs]
        rows.append(ctx.back_cancel())
        return Screen(ctx._(N_("Which citizen laboratory is it about?")), tuple(rows))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "menu.idle"

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action != "lab":
            return None
        ctx.data.update(lab_id=data.int_id(), page=0)
        await current_lab(ctx)
        return Go("service")


@opinion.state("service")
class ChooseService(State):
    help = N_("Tap the public service you want to rate. Use “Next” to see more.")

    async def show(self, ctx: Ctx) -> Screen:
        lab = await current_lab(ctx)
        services = await ctx.uow.catalog.services(lab.id)
        if not services:
            raise Gone
        per_page = ctx.settings.services_per_page
        pages = math.ceil(len(services) / per_page)
        page = min(max(int(ctx.data.get("page", 0)), 0), pages - 1)
        shown = services[page * per_page:(page + 1) * per_page]
        rows = [(ctx.button(pick(s.title, ctx.language), "svc", s.id),) for s in shown]
        if pages > 1:
            nav = []
            if page > 0:
                nav.append(ctx.button("◀️ " + ctx._(N_("Previous")), "page", page - 1))
            nav.append(ctx.button(f"{page + 1}/{pages}", "page", page))
            if page < pages - 1:
                nav.append(ctx.button(ctx._(N_("Next")) + " ▶️", "page", page + 1))
            rows.append(tuple(nav))
        rows.append(ctx.back_cancel())
        text = "<b>" + escape(pick(lab.title, ctx.language)) + "</b>\n\n" + ctx._(
            N_("Which service do you want to give your opinion on?"))
        return Screen(text, tuple(rows))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "menu.idle" if ctx.data.get("single_lab") else "lab"

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action == "page":
            if data.int_id() == ctx.data.get("page", 0):
                return stay(show=False)
            ctx.data["page"] = data.int_id() or 0
            return stay()
        if data.action == "svc":
            ctx.data["service_id"] = data.int_id()
            await current_service(ctx)
            return Go("rate")
        return None


@opinion.state("rate")
class Rate(State):
    help = N_("Tap a number from 1 (very bad) to 5 (very good), or type it.")

    async def show(self, ctx: Ctx) -> Screen:
        service = await current_service(ctx)
        text = ctx._(N_("How would you rate <b>{service}</b>?\n\n1 = very bad · 5 = very good")
                     ).format(service=escape(pick(service.title, ctx.language)))
        numbers = tuple(ctx.button(str(n), "rate", n) for n in range(1, 6))
        return Screen(text, (numbers, ctx.back_cancel()))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "review" if ctx.data.get("reviewing") else "service"

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        rating = data.int_id()
        return self._rated(rating, ctx) if data.action == "rate" else None

    async def on_text(self, text: str, ctx: Ctx) -> Go:
        value = text.strip().rstrip(".⭐★ ")
        if value.isdigit() and len(value) == 1:
            return self._rated(int(value), ctx)
        return stay(ctx._(N_("Please tap a number from 1 to 5, or type it.")))

    def _rated(self, rating: int | None, ctx: Ctx) -> Go:
        if rating is None or not 1 <= rating <= 5:
            return stay(ctx._(N_("Please tap a number from 1 to 5, or type it.")))
        ctx.data["rating"] = rating
        return Go("review" if ctx.data.get("reviewing") else "comment")


@opinion.state("comment")
class Comment(State):
    help = N_("Tell us why you gave that rating: write a message, send a voice note or a "
              "photo. If you prefer not to, tap “Skip”.")

    async def show(self, ctx: Ctx) -> Screen:
        text = ctx._(N_("Why? Tell us in a message (up to {max} characters), send a voice note "
                        "or a photo, or tap “Skip”.")).format(
            max=ctx.t.number(ctx.settings.comment_max_chars))
        return Screen(text, ((ctx.button(ctx._(N_("Skip")) + " ➡️", "skip"),),
                             ctx.back_cancel()))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "review" if ctx.data.get("reviewing") else "rate"

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action != "skip":
            return None
        ctx.data.update(comment=None, media_kind=None, media_file_id=None)
        return Go("review")

    async def on_text(self, text: str, ctx: Ctx) -> Go:
        text = text.strip()
        limit = ctx.settings.comment_max_chars
        if not text:
            return stay(ctx._(N_("The message is empty. Please write your comment or tap "
                                 "“Skip”.")))
        if len(text) > limit:
            return stay(ctx._(N_("Your message has {length} characters and the limit is {max}. "
                                 "Please shorten it and send it again; nothing was saved "
                                 "yet.")).format(length=ctx.t.number(len(text)),
                                                 max=ctx.t.number(limit)))
        ctx.data.update(comment=text, media_kind=None, media_file_id=None,
                        media_message_id=None)
        return Go("review")

    async def on_media(self, media: Media, ctx: Ctx) -> Go:
        if media.kind not in ACCEPTED_MEDIA or not media.file_id:
            return stay(ctx._(N_("I can take a text message, a voice note or a photo here. "
                                 "Or tap “Skip”.")))
        caption = (ctx.event.text or "").strip()[:ctx.settings.comment_max_chars] or None
        # The message id too: a ticket copies the voice note or photo to the team.
        ctx.data.update(comment=caption, media_kind=media.kind, media_file_id=media.file_id,
                        media_message_id=ctx.event.message_id)
        return Go("review")


def describe_comment(ctx: Ctx) -> str:
    parts = []
    if ctx.data.get("media_kind") == "voice":
        parts.append("🎤 " + ctx._(N_("Voice note")))
    elif ctx.data.get("media_kind") == "photo":
        parts.append("📷 " + ctx._(N_("Photo")))
    if ctx.data.get("comment"):
        parts.append("<i>" + escape(ctx.data["comment"]) + "</i>")
    return "\n".join(parts) or ctx._(N_("(no comment)"))


@opinion.state("review")
class Review(State):
    help = N_("Check your opinion. Tap “Send” to send it, or change the rating or the "
              "comment first.")

    async def show(self, ctx: Ctx) -> Screen:
        ctx.data.pop("reviewing", None)
        service = await current_service(ctx)
        rating = int(ctx.data["rating"])
        text = "\n".join([
            "<b>" + ctx._(N_("Your opinion")) + "</b>",
            "",
            ctx._(N_("Service: {service}")).format(
                service=escape(pick(service.title, ctx.language))),
            ctx._(N_("Rating: {stars} ({rating} of 5)")).format(stars=stars(rating),
                                                                 rating=rating),
            ctx._(N_("Comment:")) + " " + describe_comment(ctx),
        ])
        wants = ctx.data.get("wants_answer", False)
        tick = ("☑️ " if wants else "⬜ ") + ctx._(N_("I'd like an answer"))
        return Screen(text, (
            (ctx.button(tick, "answer"),),
            (ctx.button("✅ " + ctx._(N_("Send")), "send"),),
            (ctx.button("⭐ " + ctx._(N_("Change rating")), "rating"),
             ctx.button("💬 " + ctx._(N_("Change comment")), "comment")),
            ctx.back_cancel(),
        ))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "comment"

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        # "Change ..." comes back here once changed (and Back there returns here).
        if data.action == "rating":
            return Go("rate", carry={"reviewing": True})
        if data.action == "comment":
            return Go("comment", carry={"reviewing": True})
        if data.action == "answer":
            ctx.data["wants_answer"] = not ctx.data.get("wants_answer", False)
            return stay()
        if data.action == "send":
            return await self._send(ctx)
        return None

    async def _send(self, ctx: Ctx) -> Go:
        service = await current_service(ctx)
        assert ctx.citizen is not None
        opinion_id = await ctx.uow.opinions.add(NewOpinion(
            citizen_id=ctx.citizen.id, service_id=service.id, rating=int(ctx.data["rating"]),
            comment=ctx.data.get("comment"), media_kind=ctx.data.get("media_kind"),
            media_file_id=ctx.data.get("media_file_id"), language=ctx.language,
            channel=ctx.event.channel, created_at=ctx.now))
        keep = {"lab_id": ctx.data["lab_id"], "single_lab": ctx.data.get("single_lab", False),
                "reference": reference("OP", opinion_id)}
        replies: tuple = ()
        if ctx.data.get("wants_answer"):
            ticket_id, queued = await tickets.open_ticket(
                ctx, ctx.data.get("comment"), ctx.data.get("media_kind"),
                ctx.data.get("media_file_id"), ctx.data.get("media_message_id"),
                opinion_id=opinion_id)
            keep["ticket"] = tickets.ticket_ref(ticket_id)
            replies = tuple(queued)
        ctx.state.data = keep
        return Go("done", answer=ctx._(N_("Sent. Thank you!")), replies=replies)


@opinion.state("done")
class Done(State):
    help = N_("Your opinion is saved. You can rate another service or go back to the menu.")

    async def show(self, ctx: Ctx) -> Screen:
        text = ctx._(N_("🙏 Thank you! Your opinion is saved with the reference <b>{ref}</b>. "
                        "It helps to improve public services.")).format(
            ref=escape(ctx.data.get("reference", "")))
        if ctx.data.get("ticket"):
            text += "\n\n" + ctx._(N_("The team will answer you in this chat (reference "
                                       "<b>{ref}</b>).")).format(ref=escape(ctx.data["ticket"]))
        return Screen(text, ((ctx.button(ctx._(N_("Another service")), "again"),
                              ctx.button(ctx._(N_("Main menu")), "menu")),))

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action == "again":
            ctx.data["page"] = 0
            await current_lab(ctx)
            return Go("service")
        if data.action == "menu":
            return Go("menu.idle")
        return None

    async def on_text(self, text: str, ctx: Ctx) -> Go:
        return Go("menu.idle")
