"""The main menu: the journeys that exist, as buttons.

```mermaid
stateDiagram-v2
    [*] --> idle
    idle --> journey: a journey's button
    idle --> idle: Language / Privacy
```
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from conversations.callback import CallbackData
from conversations.flow import Ctx, Flow, Go, Screen, State
from conversations.i18n import N_
from conversations.vocabulary import Edit

menu = Flow("menu", entry="idle")


@dataclass(frozen=True)
class Journey:
    key: str
    label: str
    start: Callable[[Ctx], Awaitable[Go]]
    order: int = 100


JOURNEYS: list[Journey] = []


def journey(key: str, label: str, *, order: int = 100) -> Callable[
        [Callable[[Ctx], Awaitable[Go]]], Callable[[Ctx], Awaitable[Go]]]:
    """A journey's start, listed in the main menu by ``order``, then in
    registration order (not import order alone: modules import each other)."""
    def register(start: Callable[[Ctx], Awaitable[Go]]) -> Callable[[Ctx], Awaitable[Go]]:
        JOURNEYS.append(Journey(key, label, start, order))
        JOURNEYS.sort(key=lambda j: j.order)  # stable: equal orders keep theirs
        return start
    return register


@menu.state("idle")
class MainMenu(State):
    help = N_("This is the main menu: tap what you would like to do. /language changes the "
              "language and /privacy shows how we look after your data.")

    async def show(self, ctx: Ctx) -> Screen:
        rows = [(ctx.button(ctx._(j.label), "go", j.key),) for j in JOURNEYS]
        rows.append((ctx.button("🌐 " + ctx._(N_("Language")), "language"),
                     ctx.button("🔒 " + ctx._(N_("Privacy")), "privacy")))
        return Screen(ctx._(N_("What would you like to do?")), tuple(rows))

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        from conversations.flows import preferences, rights

        if data.action == "go":
            chosen = next((j for j in JOURNEYS if j.key == data.id()), None)
            return await chosen.start(ctx) if chosen else None
        if data.action == "language":
            picker = preferences.language_picker(ctx)
            return Go(show=False, replies=(Edit(picker.text, picker.buttons),))
        if data.action == "privacy":
            return Go(show=False, replies=(await rights.privacy_overview(ctx),))
        return None
