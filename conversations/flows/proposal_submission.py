"""Submitting a proposal: title → description → service or General → confirm → sent.

States of the proposals flow (``pr``), reached from its list ("Submit a
proposal") when the lab's proposals phase is open and the citizen is under
``PROPOSALS_PER_DAY``. Every step has Back and Cancel; nothing is stored
before "Send", and then it waits for moderation.
"""

from __future__ import annotations

from datetime import datetime, time

from conversations.callback import CallbackData
from conversations.flow import Ctx, Go, Gone, Screen, State, stay
from conversations.flows.proposal_moderation import post_for_review
from conversations.flows.proposals import SUBMIT_PHASE, current_lab, open_for, proposals
from conversations.i18n import N_, pick
from conversations.text import escape, reference
from conversations.vocabulary import Media
from storage.records import NewProposal

TITLE_MAX = 120
TEXT_MAX = 2000


def local_midnight(ctx: Ctx) -> datetime:
    """The start of today in the configured time zone (the daily limit's day)."""
    local = ctx.now.astimezone(ctx.t.timezone)
    return datetime.combine(local.date(), time(0), tzinfo=ctx.t.timezone)


async def refusal(ctx: Ctx) -> str | None:
    """Why this citizen cannot submit to the current lab now, or None."""
    lab = await current_lab(ctx)
    if not await open_for(SUBMIT_PHASE, lab.id, ctx):
        return ctx._(N_("This laboratory is not taking new proposals now."))
    assert ctx.citizen is not None
    limit = ctx.settings.proposals_per_day
    if await ctx.uow.proposals.submitted_since(ctx.citizen.id, local_midnight(ctx)) >= limit:
        return ctx.ngettext(
            "You have sent {count} proposal today, the most a day. You can send another "
            "one tomorrow. Thank you!",
            "You have sent {count} proposals today, the most a day. You can send another "
            "one tomorrow. Thank you!", limit).format(count=ctx.t.number(limit))
    return None


async def begin_submission(ctx: Ctx) -> Go:
    refused = await refusal(ctx)
    if refused:
        return stay(refused)
    for key in ("title", "text", "target", "reviewing"):
        ctx.data.pop(key, None)
    return Go("title")


def length_problem(text: str, limit: int, ctx: Ctx) -> str | None:
    if not text:
        return ctx._(N_("The message is empty. Please write it again."))
    if len(text) > limit:
        return ctx._(N_("Your message has {length} characters and the limit is {max}. "
                        "Please shorten it and send it again; nothing was saved yet.")).format(
            length=ctx.t.number(len(text)), max=ctx.t.number(limit))
    return None


class Writing(State):
    """A submission step that takes text (and politely refuses anything else)."""

    async def on_media(self, media: Media, ctx: Ctx) -> Go:
        return stay(ctx._(N_("Please write your proposal as a text message.")))


@proposals.state("title")
class Title(Writing):
    help = N_("Write a short title that says what you propose, for example: Longer opening "
              "hours on Saturdays. /cancel stops and saves nothing.")

    async def show(self, ctx: Ctx) -> Screen:
        lab = await current_lab(ctx)
        text = "✍️ <b>" + ctx._(N_("New proposal")) + "</b> · " + escape(
            pick(lab.title, ctx.language)) + "\n\n" + ctx._(
            N_("Write a short title for your proposal (up to {max} characters).")).format(
            max=ctx.t.number(TITLE_MAX))
        return Screen(text, (ctx.back_cancel(),))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "confirm" if ctx.data.get("reviewing") else "list"

    async def on_text(self, text: str, ctx: Ctx) -> Go:
        text = " ".join(text.split())
        problem = length_problem(text, TITLE_MAX, ctx)
        if problem:
            return stay(problem)
        ctx.data["title"] = text
        return Go("confirm" if ctx.data.get("reviewing") else "text")


@proposals.state("text")
class Description(Writing):
    help = N_("Explain what should change and why. /cancel stops and saves nothing.")

    async def show(self, ctx: Ctx) -> Screen:
        text = ctx._(N_("Now describe your proposal: what should change and why (up to {max} "
                        "characters).")).format(max=ctx.t.number(TEXT_MAX))
        return Screen(text, (ctx.back_cancel(),))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "confirm" if ctx.data.get("reviewing") else "title"

    async def on_text(self, text: str, ctx: Ctx) -> Go:
        text = text.strip()
        problem = length_problem(text, TEXT_MAX, ctx)
        if problem:
            return stay(problem)
        ctx.data["text"] = text
        if ctx.data.get("reviewing"):
            return Go("confirm")
        if not await ctx.uow.catalog.services(ctx.data["lab_id"]):
            ctx.data["target"] = 0
            return Go("confirm")
        return Go("where")


@proposals.state("where")
class Where(State):
    help = N_("Tap the service your proposal is about, or “General (the whole laboratory)” if "
              "it is about all of it.")

    async def show(self, ctx: Ctx) -> Screen:
        lab = await current_lab(ctx)
        services = await ctx.uow.catalog.services(lab.id)
        rows = [(ctx.button(pick(s.title, ctx.language), "svc", s.id),) for s in services]
        rows.append((ctx.button("🌐 " + ctx._(N_("General (the whole laboratory)")), "svc", 0),))
        rows.append(ctx.back_cancel())
        return Screen(ctx._(N_("Which service is your proposal about?")), tuple(rows))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "confirm" if ctx.data.get("reviewing") else "text"

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action != "svc":
            return None
        chosen = data.int_id()
        if chosen:
            service = await ctx.uow.catalog.service(chosen)
            if service is None or service.lab_id != (await current_lab(ctx)).id:
                raise Gone
        ctx.data["target"] = chosen or 0
        return Go("confirm")


@proposals.state("confirm")
class Confirm(State):
    help = N_("Check your proposal. Tap “Send” to send it, or change something first.")

    async def show(self, ctx: Ctx) -> Screen:
        ctx.data.pop("reviewing", None)
        lab = await current_lab(ctx)
        where = ctx._(N_("General (the whole laboratory)"))
        if ctx.data.get("target"):
            service = await ctx.uow.catalog.service(ctx.data["target"])
            if service is None or service.lab_id != lab.id:
                raise Gone
            where = pick(service.title, ctx.language)
        text = "\n".join([
            "<b>" + ctx._(N_("Your proposal")) + "</b>",
            "",
            ctx._(N_("Title: {title}")).format(title="<b>" + escape(ctx.data["title"]) + "</b>"),
            ctx._(N_("Service: {service}")).format(service=escape(where)),
            "",
            "<i>" + escape(ctx.data["text"]) + "</i>",
            "",
            ctx._(N_("A moderator reads every proposal before it is published.")),
        ])
        rows = [(ctx.button("✅ " + ctx._(N_("Send")), "send"),),
                (ctx.button(ctx._(N_("Change title")), "title"),
                 ctx.button(ctx._(N_("Change description")), "text"))]
        if await ctx.uow.catalog.services(lab.id):
            rows.append((ctx.button(ctx._(N_("Change service")), "where"),))
        rows.append(ctx.back_cancel())
        return Screen(text, tuple(rows))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "where" if await ctx.uow.catalog.services(ctx.data["lab_id"]) else "text"

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action in ("title", "text", "where"):
            return Go(data.action, carry={"reviewing": True})
        if data.action == "send":
            return await self._send(ctx)
        return None

    async def _send(self, ctx: Ctx) -> Go:
        refused = await refusal(ctx)
        if refused:
            return Go("list", notice=refused)
        assert ctx.citizen is not None
        proposal_id = await ctx.uow.proposals.submit(NewProposal(
            lab_id=ctx.data["lab_id"], service_id=ctx.data.get("target") or None,
            title=ctx.data["title"], description=ctx.data["text"], citizen_id=ctx.citizen.id,
            language=ctx.language, created_at=ctx.now))
        for key in ("title", "text", "target"):
            ctx.data.pop(key, None)
        ctx.data["reference"] = reference("PR", proposal_id)
        return Go("sent", answer=ctx._(N_("Sent. Thank you!")),
                  replies=tuple(await post_for_review(ctx, proposal_id)))


@proposals.state("sent")
class Sent(State):
    help = N_("Your proposal is saved. We will tell you when a moderator has read it.")

    async def show(self, ctx: Ctx) -> Screen:
        text = ctx._(N_("🙏 Thank you! Your proposal is saved with the reference <b>{ref}</b>. "
                        "A moderator will read it before it is published, and we will tell "
                        "you what happens with it.")).format(
            ref=escape(ctx.data.get("reference", "")))
        return Screen(text, ((ctx.button(ctx._(N_("See proposals")), "list"),
                              ctx.button(ctx._(N_("Main menu")), "menu")),))

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action == "list":
            await current_lab(ctx)
            return Go("list")
        if data.action == "menu":
            return Go("menu.idle")
        return None

    async def on_text(self, text: str, ctx: Ctx) -> Go:
        return Go("menu.idle")
