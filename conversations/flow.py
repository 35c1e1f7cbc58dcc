"""How a flow is written: states declared once, one class per state.

A state shows a :class:`Screen` (text and buttons) and reacts to what the
person does there: a button, typed text, media. What it does not expect gets
a polite, translated answer and the person stays where they were. A handler
returns a :class:`Go` (the next state plus anything to say on the way); it
never sends anything itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from conversations.callback import CallbackData
from conversations.i18n import N_, Translator
from conversations.vocabulary import Button, Event, Keyboard, Media, Reply

if TYPE_CHECKING:
    from conversations.settings import FlowSettings
    from storage.records import CitizenRecord, StateRecord
    from storage.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class Screen:
    """What a state shows: HTML text (user text already escaped) and buttons."""

    text: str
    buttons: Keyboard = ()


@dataclass(frozen=True, slots=True)
class Go:
    """The outcome of a handler.

    ``target`` is a state of the same flow, ``"flow.state"`` elsewhere, or
    ``None`` to stay. ``notice`` is said above the next screen; ``answer`` is
    the toast for a button press; ``replies`` go out before the screen.
    ``show`` False says only the notice and keeps the current screen.
    ``carry`` is data for the next state (a new flow starts with only this).
    """

    target: str | None = None
    notice: str | None = None
    answer: str | None = None
    replies: tuple[Reply, ...] = ()
    show: bool = True
    carry: dict[str, Any] = field(default_factory=dict)


def stay(notice: str | None = None, *, answer: str | None = None, show: bool = True) -> Go:
    return Go(None, notice=notice, answer=answer, show=show)


@dataclass
class Ctx:
    """What a handler may use: storage, language, clock, the answers so far."""

    uow: UnitOfWork
    t: Translator
    now: datetime
    event: Event
    state: StateRecord
    citizen: CitizenRecord | None
    settings: FlowSettings
    flow: str = ""
    next_step: int = 0
    stamped: bool = field(default=False)
    forgotten: bool = False  # the person was erased: write nothing back about them
    in_moderators_chat: bool = False  # the event came from the moderators' group

    @property
    def data(self) -> dict[str, Any]:
        return self.state.data

    @property
    def consented(self) -> bool:
        return self.citizen is not None and self.citizen.consented

    @property
    def language(self) -> str:
        return self.t.language

    def _(self, message: str) -> str:
        return self.t.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.t.ngettext(singular, plural, n)

    def button(self, label: str, action: str, *ids: str | int) -> Button:
        """A button that moves this conversation forward (valid at this step only)."""
        self.stamped = True
        data = CallbackData(self.flow, action, tuple(str(i) for i in ids), self.next_step)
        return Button(label, data.encode())

    def back_cancel(self, back: bool = True) -> tuple[Button, ...]:
        row = [self.button("⬅️ " + self._(N_("Back")), "back")] if back else []
        row.append(self.button("✖️ " + self._(N_("Cancel")), "cancel"))
        return tuple(row)


def global_button(label: str, flow: str, action: str, *ids: str | int) -> Button:
    """A button that works whatever the conversation is doing (rechecked on press)."""
    return Button(label, CallbackData(flow, action, tuple(str(i) for i in ids)).encode())


class Gone(Exception):
    """What the conversation was about no longer exists or is no longer open."""


FreeText = Callable[[str, "Ctx"], Awaitable["Go | None"]]
#: What typed text may still mean in a state that takes only buttons, tried in
#: order before "please use the buttons" (e.g. a reply to the team's answer
#: typed instead of pressing "Reply": :mod:`conversations.flows.tickets`).
FREE_TEXT: list[FreeText] = []


def free_text(handler: FreeText) -> FreeText:
    """Register a :data:`FREE_TEXT` handler: a Go, or None when it is not its text."""
    FREE_TEXT.append(handler)
    return handler


class State(ABC):
    """One state of a flow. Subclasses override what they accept."""

    name: ClassVar[str] = ""
    flow: ClassVar[Flow]
    help: ClassVar[str] = N_("Use the buttons below. /cancel stops and saves nothing.")

    @abstractmethod
    async def show(self, ctx: Ctx) -> Screen:
        """The screen of this state, in ctx's language (raise Gone if it cannot be)."""

    async def back_to(self, ctx: Ctx) -> str | None:
        """Where "Back" leads; None hides the Back button's effect (stays)."""
        return None

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        """Handle this state's own buttons; None means "not one of mine"."""
        return None

    async def on_text(self, text: str, ctx: Ctx) -> Go:
        for handler in FREE_TEXT:
            go = await handler(text, ctx)
            if go is not None:
                return go
        return stay(ctx._(N_("Please choose one of the options with the buttons.")))

    async def on_media(self, media: Media, ctx: Ctx) -> Go:
        return stay(ctx._(N_("I can't use that here. Please choose one of the options "
                             "with the buttons.")))


class Flow:
    """A named set of states; ``Flow.states`` maps names to state objects."""

    registry: ClassVar[dict[str, Flow]] = {}

    def __init__(self, name: str, *, entry: str, needs_consent: bool = True) -> None:
        self.name = name
        self.entry = entry
        # Flows that store nothing new (first contact, erasure) run without consent.
        self.needs_consent = needs_consent
        self.states: dict[str, State] = {}
        self.actions: dict[str, Callable[[CallbackData, Ctx], Awaitable[Go]]] = {}
        Flow.registry[name] = self

    def state(self, name: str) -> Callable[[type[State]], type[State]]:
        def register(cls: type[State]) -> type[State]:
            cls.name = name
            cls.flow = self
            self.states[name] = cls()
            return cls
        return register

    def action(self, name: str) -> Callable[
        [Callable[[CallbackData, Ctx], Awaitable[Go]]],
        Callable[[CallbackData, Ctx], Awaitable[Go]],
    ]:
        """Register a global button action: works from any message, rechecks on press."""
        def register(handler: Callable[[CallbackData, Ctx], Awaitable[Go]]):  # type: ignore[no-untyped-def]
            self.actions[name] = handler
            return handler
        return register


def resolve(target: str, current_flow: str) -> tuple[Flow, State]:
    flow_name, _, state_name = target.rpartition(".")
    flow = Flow.registry[flow_name or current_flow]
    return flow, flow.states[state_name]


DeepLink = Callable[[str, Ctx], Awaitable[Go]]
DEEP_LINKS: dict[str, DeepLink] = {}


def deep_link(prefix: str) -> Callable[[DeepLink], DeepLink]:
    """Register a ``/start PREFIX-rest`` deep link (stable slugs, never database ids)."""
    def register(handler: DeepLink) -> DeepLink:
        DEEP_LINKS[prefix] = handler
        return handler
    return register
