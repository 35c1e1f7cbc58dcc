"""What a citizen took part in, and what they want to hear about.

```mermaid
stateDiagram-v2
    [*] --> mine.list: My participation
    mine.list --> mine.list: Previous / Next
    [*] --> notif.prefs: Notifications (or /notifications)
    notif.prefs --> notif.prefs: switch one on or off
    mine.list --> menu.idle: Main menu
    notif.prefs --> menu.idle: Main menu
```
"""

from __future__ import annotations

import math

from conversations.callback import CallbackData
from conversations.flow import Ctx, Flow, Go, Screen, State
from conversations.flows.menu import journey
from conversations.flows.proposals import content, main_menu_row, status_label
from conversations.i18n import N_
from conversations.text import escape, reference, stars
from storage.records import ParticipationItem

PER_PAGE = 8

mine = Flow("mine", entry="list")
notifications = Flow("notif", entry="prefs")

# (preference, label) in the order shown; the names are the table's columns.
PREFERENCES = (
    ("participation_updates", N_("Updates on what I took part in")),
    ("news", N_("News from the laboratories")),
    ("workshop_invitations", N_("Invitations to workshops")),
)


@journey("mine", N_("🙋 My participation"))
async def start_mine(ctx: Ctx) -> Go:
    return Go("mine.list", carry={"page": 0})


@journey("notif", N_("🔔 Notifications"))
async def start_notifications(ctx: Ctx) -> Go:
    return Go("notif.prefs")


def describe(item: ParticipationItem, ctx: Ctx) -> str:
    title = escape(content(item.title, ctx.t))
    day = ctx.t.datetime(item.at, "short")
    if item.kind == "opinion":
        return "💬 " + ctx._(N_("Opinion {ref} on {service}: {stars} ({date})")).format(
            ref=reference("OP", item.number), service=title, stars=stars(item.score or 0),
            date=day)
    if item.kind == "proposal":
        return "💡 " + ctx._(N_("Proposal {ref}: {title}. Status: {status} ({date})")).format(
            ref=reference("PR", item.number), title=title,
            status=status_label(item.status or "", ctx), date=day)
    return "⭐ " + ctx._(N_("You rated {score} of 5: {title}. Status: {status} ({date})")).format(
        score=item.score, title=title, status=status_label(item.status or "", ctx), date=day)


@mine.state("list")
class MyParticipation(State):
    help = N_("This is what you have sent us and its current status. “Previous” and “Next” "
              "turn the page.")

    async def show(self, ctx: Ctx) -> Screen:
        assert ctx.citizen is not None
        items = await ctx.uow.proposals.participation(ctx.citizen.id)
        heading = "🙋 <b>" + ctx._(N_("My participation")) + "</b>"
        if not items:
            return Screen(heading + "\n\n" + ctx._(N_(
                "You haven't taken part yet. Your opinions, proposals and ratings will appear "
                "here.")), (main_menu_row(ctx, back=False),))
        pages = math.ceil(len(items) / PER_PAGE)
        page = min(max(int(ctx.data.get("page", 0)), 0), pages - 1)
        shown = items[page * PER_PAGE:(page + 1) * PER_PAGE]
        text = heading
        if pages > 1:
            text += "\n" + ctx._(N_("Page {page} of {pages}")).format(page=page + 1,
                                                                     pages=pages)
        text += "\n\n" + "\n\n".join(describe(item, ctx) for item in shown)
        rows = []
        nav = []
        if page > 0:
            nav.append(ctx.button("◀️ " + ctx._(N_("Previous")), "page", page - 1))
        if page < pages - 1:
            nav.append(ctx.button(ctx._(N_("Next")) + " ▶️", "page", page + 1))
        if nav:
            rows.append(tuple(nav))
        rows.append(main_menu_row(ctx, back=False))
        return Screen(text, tuple(rows))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "menu.idle"

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action == "menu":
            return Go("menu.idle")
        if data.action == "page":
            ctx.data["page"] = data.int_id() or 0
            return Go()
        return None


@notifications.state("prefs")
class Preferences(State):
    help = N_("Tap a line to switch that kind of message on or off. We never send you "
              "anything else.")

    async def show(self, ctx: Ctx) -> Screen:
        assert ctx.citizen is not None
        current = await ctx.uow.preferences.get(ctx.citizen.id)
        lines = ["🔔 <b>" + ctx._(N_("Notifications")) + "</b>", "",
                 ctx._(N_("Choose what we may write to you about. Tap a line to switch it on "
                          "or off.")), ""]
        rows = []
        for index, (name, label) in enumerate(PREFERENCES):
            on = bool(getattr(current, name))
            state = (ctx._(N_("{name}: on")) if on else ctx._(N_("{name}: off"))).format(
                name=ctx._(label))
            lines.append(("✅ " if on else "⬜ ") + state)
            rows.append((ctx.button(("✅ " if on else "⬜ ") + state, "toggle", index),))
        rows.append(main_menu_row(ctx, back=False))
        return Screen("\n".join(lines), tuple(rows))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "menu.idle"

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action == "menu":
            return Go("menu.idle")
        if data.action != "toggle":
            return None
        index = data.int_id()
        if index is None or index >= len(PREFERENCES):
            return None
        assert ctx.citizen is not None
        name = PREFERENCES[index][0]
        current = await ctx.uow.preferences.get(ctx.citizen.id)
        turned_on = not getattr(current, name)
        await ctx.uow.preferences.set(ctx.citizen.id, name, turned_on, ctx.now)
        return Go(answer=ctx._(N_("Saved.")))
