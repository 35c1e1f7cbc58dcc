"""Proposals: browse a lab's proposals, rate them 1-5, submit one.

This module holds the flow, browsing and rating; the submission steps are
in :mod:`conversations.flows.proposal_submission` and the status news in
:mod:`conversations.flows.proposal_news` (states and actions of this same flow).

```mermaid
stateDiagram-v2
    [*] --> lab: Proposals (more than one lab open)
    [*] --> filter: only one lab open
    [*] --> detail: /start prop-SLUG
    lab --> filter: a lab (straight to list when it has no services)
    filter --> list: All proposals / a service
    list --> list: Previous / Next / Newest or Best rated first
    list --> detail: a proposal
    detail --> detail: 1-5 (rate, or change the rating)
    detail --> list: Back
    list --> title: Submit a proposal (proposals phase open, under the daily limit)
    title --> text: a title (at most 120 characters)
    text --> where: a description (at most 2,000 characters)
    where --> confirm: a service or General (skipped when the lab has none)
    confirm --> sent: Send (stored pending moderation, reference PR-000045)
    sent --> list: See proposals
    filter --> lab: Back
    list --> filter: Back
```

Browse states end with "Main menu" (a rating is saved the moment it is
given, so "Cancel, nothing saved" would be untrue there); the submission
steps have Back and Cancel. A proposal id in a button is rechecked on every
press: a proposal that is gone or hidden answers "not available" and the
menu (``Gone``).
"""

from __future__ import annotations

import math

from babel.numbers import format_decimal

from conversations.callback import CallbackData
from conversations.flow import (
    Ctx,
    Flow,
    Go,
    Gone,
    Screen,
    State,
    deep_link,
    stay,
)
from conversations.flows.menu import journey
from conversations.i18n import N_, pick
from conversations.text import escape, reference
from conversations.vocabulary import Button
from storage.records import LabRecord, ProposalRecord, Ratings

BROWSE_PHASES = ("proposals", "ratings", "results")
RATING_PHASE = "ratings"
SUBMIT_PHASE = "proposals"
PER_PAGE = 5
LABEL_MAX = 48
BAR_WIDTH = 10

STATUS_LABELS = {
    "pending": N_("Waiting for moderation"),
    "published": N_("Published"),
    "under_study": N_("Under study"),
    "accepted": N_("Accepted"),
    "rejected": N_("Not accepted"),
    "implemented": N_("Implemented"),
    # Not a status of its own: a published one a moderator hid (/hide PR-45).
    "hidden": N_("Hidden by a moderator"),
}
AUTHOR_LABELS = {
    "citizen": N_("A citizen"),
    "staff": N_("The administration"),
    "workshop": N_("A citizen workshop"),
}

proposals = Flow("pr", entry="list")


# -- labs and phases ----------------------------------------------------------


async def browsable_labs(ctx: Ctx) -> list[LabRecord]:
    """Labs whose proposals can be read: taking proposals, ratings, or showing results."""
    found: dict[int, LabRecord] = {}
    for phase in BROWSE_PHASES:
        for lab in await ctx.uow.catalog.labs_open_for(phase, ctx.now):
            found.setdefault(lab.id, lab)
    return [found[key] for key in sorted(found)]


async def open_for(phase: str, lab_id: int, ctx: Ctx) -> bool:
    return any(lab.id == lab_id for lab in await ctx.uow.catalog.labs_open_for(phase, ctx.now))


async def current_lab(ctx: Ctx) -> LabRecord:
    lab_id = ctx.data.get("lab_id")
    for lab in await browsable_labs(ctx):
        if lab.id == lab_id:
            return lab
    raise Gone


async def current_proposal(ctx: Ctx) -> ProposalRecord:
    """The proposal being looked at: still visible and of the chosen lab."""
    lab = await current_lab(ctx)
    proposal_id = ctx.data.get("proposal_id")
    found = await ctx.uow.proposals.visible(proposal_id) if isinstance(proposal_id, int) \
        else None
    if found is None or found.lab_id != lab.id:
        raise Gone
    return found


async def after_lab(lab: LabRecord, ctx: Ctx, single: bool) -> Go:
    """The service filter, or the list straight away when the lab has no services."""
    carry = {"lab_id": lab.id, "single_lab": single, "page": 0, "order": "newest",
             "service_id": None}
    has_services = bool(await ctx.uow.catalog.services(lab.id))
    return Go("pr.filter" if has_services else "pr.list", carry=carry)


@journey("pr", N_("💡 Proposals"))
async def start(ctx: Ctx) -> Go:
    labs = await browsable_labs(ctx)
    if not labs:
        return stay(ctx._(N_("No citizen laboratory has proposals to show right now. "
                             "Thank you for your interest!")))
    if len(labs) == 1:
        return await after_lab(labs[0], ctx, single=True)
    return Go("pr.lab")


@deep_link("prop")
async def open_proposal(slug: str, ctx: Ctx) -> Go:
    found = await ctx.uow.proposals.by_slug(slug)
    visible = await ctx.uow.proposals.visible(found.id) if found else None
    labs = await browsable_labs(ctx)
    if visible is None or not any(lab.id == visible.lab_id for lab in labs):
        return Go("menu.idle", notice=ctx._(N_("Sorry, that proposal is not available.")))
    return Go("pr.detail", carry={
        "lab_id": visible.lab_id, "single_lab": len(labs) == 1, "page": 0,
        "order": "newest", "service_id": None, "proposal_id": visible.id})


def main_menu_row(ctx: Ctx, back: bool = True) -> tuple[Button, ...]:
    row = [ctx.button("⬅️ " + ctx._(N_("Back")), "back")] if back else []
    row.append(ctx.button("🏠 " + ctx._(N_("Main menu")), "menu"))
    return tuple(row)


def short(text: str, limit: int = LABEL_MAX) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


# -- showing results ------------------------------------------------------------


def result_line(ratings: Ratings, ctx: Ctx) -> str:
    """ "4.2 of 5 from 37 ratings", or that there are none yet."""
    if ratings.average is None:
        return ctx._(N_("No ratings yet."))
    return ctx.ngettext("{average} of 5 from {count} rating",
                        "{average} of 5 from {count} ratings", ratings.count).format(
        average=format_decimal(ratings.average, format="0.0", locale=ctx.language),
        count=ctx.t.number(ratings.count))


def bar_chart(ratings: Ratings, ctx: Ctx) -> str:
    """One line per score, 5 to 1: the numbers first (what a screen reader says
    first), then a bar of blocks scaled to the largest count."""
    largest = max(ratings.distribution) or 1
    lines = []
    for score in range(5, 0, -1):
        count = ratings.distribution[score - 1]
        blocks = math.ceil(BAR_WIDTH * count / largest) if count else 0
        label = ctx.ngettext("{score} star: {count}", "{score} stars: {count}", score).format(
            score=score, count=ctx.t.number(count))
        lines.append(f"{label} {'█' * blocks}".rstrip())
    return "\n".join(lines)


def content(texts: dict[str, str], t) -> str:  # type: ignore[no-untyped-def]
    """A proposal's title or text in the reader's language; an author who deleted
    their data without keeping their texts left it empty."""
    return pick(texts, t.language) or t.gettext(N_("(deleted by its author)"))


def status_label(status: str, ctx: Ctx) -> str:
    return ctx._(STATUS_LABELS.get(status, status))


# -- browsing -----------------------------------------------------------------


@proposals.state("lab")
class ChooseLab(State):
    help = N_("Each citizen laboratory is about one public service area. Tap the one whose "
              "proposals you want to see.")

    async def show(self, ctx: Ctx) -> Screen:
        labs = await browsable_labs(ctx)
        if not labs:
            raise Gone
        rows = [(ctx.button(pick(lab.title, ctx.language), "lab", lab.id),) for lab in labs]
        rows.append(main_menu_row(ctx))
        return Screen(ctx._(N_("Which citizen laboratory's proposals do you want to see?")),
                      tuple(rows))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "menu.idle"

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action == "menu":
            return Go("menu.idle")
        if data.action != "lab":
            return None
        ctx.data["lab_id"] = data.int_id()
        return await after_lab(await current_lab(ctx), ctx, single=False)


@proposals.state("filter")
class ChooseFilter(State):
    help = N_("Tap “All proposals”, or a service to see only the proposals about it.")

    async def show(self, ctx: Ctx) -> Screen:
        lab = await current_lab(ctx)
        services = await ctx.uow.catalog.services(lab.id)
        rows = [(ctx.button("📋 " + ctx._(N_("All proposals")), "all"),)]
        rows += [(ctx.button(pick(s.title, ctx.language), "svc", s.id),) for s in services]
        rows.append(main_menu_row(ctx))
        text = "<b>" + escape(pick(lab.title, ctx.language)) + "</b>\n\n" + ctx._(
            N_("Which proposals do you want to see?"))
        return Screen(text, tuple(rows))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "menu.idle" if ctx.data.get("single_lab") else "lab"

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action == "menu":
            return Go("menu.idle")
        if data.action == "all":
            ctx.data.update(service_id=None, page=0)
            return Go("list")
        if data.action == "svc":
            lab = await current_lab(ctx)
            service = await ctx.uow.catalog.service(data.int_id() or -1)
            if service is None or service.lab_id != lab.id:
                raise Gone
            ctx.data.update(service_id=service.id, page=0)
            return Go("list")
        return None


@proposals.state("list")
class ProposalList(State):
    help = N_("Tap a proposal to read it and rate it. “Previous” and “Next” turn the page; "
              "you can also sort them by the best rated.")

    async def show(self, ctx: Ctx) -> Screen:
        lab = await current_lab(ctx)
        service_id = ctx.data.get("service_id")
        service = await ctx.uow.catalog.service(service_id) if service_id else None
        if service_id and (service is None or service.lab_id != lab.id):
            raise Gone
        order = "best" if ctx.data.get("order") == "best" else "newest"
        page = max(int(ctx.data.get("page", 0)), 0)
        found = await ctx.uow.proposals.page(lab.id, service_id, order, page, PER_PAGE)
        pages = max(math.ceil(found.total / PER_PAGE), 1)
        if page >= pages:  # fewer proposals than when the page was chosen
            page = pages - 1
            ctx.data["page"] = page
            found = await ctx.uow.proposals.page(lab.id, service_id, order, page, PER_PAGE)
        heading = escape(pick(lab.title, ctx.language))
        if service is not None:
            heading += " · " + escape(pick(service.title, ctx.language))
        lines = ["💡 <b>" + heading + "</b>"]
        rows: list[tuple[Button, ...]] = []
        if not found.items:
            lines += ["", ctx._(N_("There are no proposals here yet."))]
        else:
            sorting = (ctx._(N_("Best rated first")) if order == "best"
                       else ctx._(N_("Newest first")))
            lines.append(ctx._(N_("{sorting} · page {page} of {pages}")).format(
                sorting=sorting, page=page + 1, pages=pages))
            for number, item in enumerate(found.items, start=page * PER_PAGE + 1):
                title = content(item.title, ctx.t)
                lines += ["", f"{number}. <b>{escape(title)}</b>",
                          f"{status_label(item.status, ctx)} · "
                          f"{result_line(item.ratings, ctx)}"]
                rows.append((ctx.button(f"{number}. {short(title)}", "open", item.id),))
            nav = []
            if page > 0:
                nav.append(ctx.button("◀️ " + ctx._(N_("Previous")), "page", page - 1))
            if page < pages - 1:
                nav.append(ctx.button(ctx._(N_("Next")) + " ▶️", "page", page + 1))
            if nav:
                rows.append(tuple(nav))
            rows.append((ctx.button("🆕 " + ctx._(N_("Newest first")), "order", "newest")
                         if order == "best" else
                         ctx.button("⭐ " + ctx._(N_("Best rated first")), "order", "best"),))
        if await open_for(SUBMIT_PHASE, lab.id, ctx):
            rows.append((ctx.button("✍️ " + ctx._(N_("Submit a proposal")), "submit"),))
        rows.append(main_menu_row(ctx))
        return Screen("\n".join(lines), tuple(rows))

    async def back_to(self, ctx: Ctx) -> str | None:
        lab = await current_lab(ctx)
        if await ctx.uow.catalog.services(lab.id):
            return "filter"
        return "menu.idle" if ctx.data.get("single_lab") else "lab"

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action == "menu":
            return Go("menu.idle")
        if data.action == "page":
            ctx.data["page"] = data.int_id() or 0
            return stay()
        if data.action == "order":
            ctx.data.update(order="best" if data.id() == "best" else "newest", page=0)
            return stay()
        if data.action == "open":
            ctx.data["proposal_id"] = data.int_id()
            await current_proposal(ctx)
            return Go("detail")
        if data.action == "submit":
            from conversations.flows.proposal_submission import begin_submission

            return await begin_submission(ctx)
        return None


@proposals.state("detail")
class Detail(State):
    help = N_("Tap a number from 1 (I don't agree at all) to 5 (I fully agree) to rate this "
              "proposal. You can change your rating by tapping another number.")

    async def show(self, ctx: Ctx) -> Screen:
        proposal = await current_proposal(ctx)
        assert ctx.citizen is not None
        mine = await ctx.uow.proposals.my_rating(proposal.id, ctx.citizen.id)
        rating_open = await open_for(RATING_PHASE, proposal.lab_id, ctx)
        service = (await ctx.uow.catalog.service(proposal.service_id)
                   if proposal.service_id else None)
        where = (pick(service.title, ctx.language) if service
                 else ctx._(N_("General (the whole laboratory)")))
        lines = [
            "💡 <b>" + escape(content(proposal.title, ctx.t)) + "</b> · "
            + reference("PR", proposal.id),
            "",
            escape(content(proposal.description, ctx.t)),
            "",
            ctx._(N_("Service: {service}")).format(service=escape(where)),
            ctx._(N_("Proposed by: {author}")).format(
                author=ctx._(AUTHOR_LABELS.get(proposal.author_kind, proposal.author_kind))),
            ctx._(N_("Status: {status}")).format(status=status_label(proposal.status, ctx)),
        ]
        if proposal.answer:
            lines.append(ctx._(N_("Answer from the administration: {answer}")).format(
                answer=escape(pick(proposal.answer, ctx.language))))
        lines += ["", "⭐ " + result_line(proposal.ratings, ctx)]
        if proposal.ratings.count and (mine is not None or not rating_open):
            lines += ["", bar_chart(proposal.ratings, ctx)]
        lines.append("")
        if not rating_open:
            lines.append(ctx._(N_("Ratings for this laboratory are closed.")))
        elif mine is not None:
            lines.append(ctx._(N_("You rated it {score}. Tap another number to change your "
                                  "rating.")).format(score=mine))
        else:
            lines.append(ctx._(N_("How much do you agree? Tap 1 (not at all) to 5 "
                                  "(completely).")))
        rows: list[tuple[Button, ...]] = []
        if rating_open:
            rows.append(tuple(ctx.button(f"{n} ✓" if n == mine else str(n), "rate", n)
                              for n in range(1, 6)))
        else:
            rows.append((ctx.button("🔒 " + ctx._(N_("Ratings are closed")), "closed"),))
        rows.append(main_menu_row(ctx))
        return Screen("\n".join(lines), tuple(rows))

    async def back_to(self, ctx: Ctx) -> str | None:
        await current_lab(ctx)
        return "list"

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action == "menu":
            return Go("menu.idle")
        if data.action == "closed":
            return stay(answer=ctx._(N_("Ratings for this laboratory are closed.")), show=False)
        if data.action == "rate":
            return await self._rate(data.int_id(), ctx)
        return None

    async def on_text(self, text: str, ctx: Ctx) -> Go:
        value = text.strip().rstrip(".⭐★ ")
        if value.isdigit() and len(value) == 1:
            return await self._rate(int(value), ctx)
        return stay(ctx._(N_("Please tap a number from 1 to 5, or type it.")))

    async def _rate(self, score: int | None, ctx: Ctx) -> Go:
        if score is None or not 1 <= score <= 5:
            return stay(ctx._(N_("Please tap a number from 1 to 5, or type it.")))
        proposal = await current_proposal(ctx)
        if not await open_for(RATING_PHASE, proposal.lab_id, ctx):
            return stay(answer=ctx._(N_("Ratings for this laboratory are closed.")))
        assert ctx.citizen is not None
        if await ctx.uow.proposals.rate(proposal.id, ctx.citizen.id, score, ctx.now) is None:
            raise Gone
        return stay(answer=ctx._(N_("Thank you! You rated it {score}.")).format(score=score))
