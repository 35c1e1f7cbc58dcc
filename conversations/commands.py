"""Commands a citizen can use anywhere, and the door to staff commands.

Staff commands live with their journeys and register in
:mod:`conversations.roles`; this router runs one only after the role check.
"""

from __future__ import annotations

import re

from conversations import roles
from conversations.flow import DEEP_LINKS, Ctx, Flow, Go, resolve, stay
from conversations.i18n import N_
from conversations.vocabulary import Event

# Shown in Telegram's command menu (setMyCommands), per language.
CITIZEN_COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", N_("Start or start again")),
    ("menu", N_("Main menu")),
    ("help", N_("Help with the current step")),
    ("language", N_("Change the language")),
    ("myworkshops", N_("My workshops")),
    ("notifications", N_("Choose what we may write to you about")),
    ("privacy", N_("Privacy and your data")),
    ("mydata", N_("Get a copy of your data")),
    ("deleteme", N_("Delete your data")),
    ("cancel", N_("Stop what you are doing")),
)

ROLE_NAMES = {
    roles.MODERATOR: N_("moderator"),
    roles.STAFF: N_("staff"),
    roles.ADMIN: N_("administrator"),
}

_PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


async def run(event: Event, ctx: Ctx) -> Go:
    from conversations.flows import onboarding, preferences, rights
    from conversations.flows import workshops as workshop_journey

    if not ctx.consented and Flow.registry[ctx.state.flow].needs_consent:
        ctx.state.flow, ctx.state.state = "start", "welcome"
    name = event.command or ""
    staff = await roles.allowed(name, ctx)
    if staff is not None:
        return await staff.handler(event, ctx)
    if name == "start":
        payload = event.args.strip()
        return await onboarding.begin(payload if _PAYLOAD.match(payload) else "", ctx)
    if name == "menu":
        return Go("menu.idle") if ctx.consented else stay()
    if name == "cancel":
        return cancelled(ctx)
    if name == "help":
        _, current = resolve(f"{ctx.state.flow}.{ctx.state.state}", ctx.state.flow)
        return stay("❓ " + ctx._(current.help) + await staff_help(ctx))
    if name == "language":
        return Go(show=False, replies=(preferences.language_picker(ctx),))
    if name == "privacy":
        return Go(show=False, replies=(await rights.privacy_overview(ctx),))
    if name == "myworkshops":
        return await workshop_journey.my_workshops_command(ctx)
    if name == "mydata":
        return await rights.my_data(ctx)
    if name == "deleteme":
        return Go("forget.confirm")
    if name == "notifications":
        return Go("notif.prefs") if ctx.consented else stay()
    return stay(ctx._(N_("I don't know the command /{command}. You can use /menu, /help, "
                         "/language, /notifications, /privacy, /mydata, /deleteme and "
                         "/cancel.")).format(
        command=name))


async def staff_help(ctx: Ctx) -> str:
    """What this person's role adds to /help (nothing for a citizen)."""
    role = await roles.role_of(ctx)
    available = roles.commands_for(role)
    if not available:
        return ""
    lines = [ctx._(N_("As {role} you can also use:")).format(role=ctx._(ROLE_NAMES[role]))]
    lines += [f"/{c.name} — {ctx._(c.description)}" for c in available]
    return "\n\n" + "\n".join(lines)


def cancelled(ctx: Ctx) -> Go:
    if ctx.state.flow in ("menu", "start"):
        return stay(ctx._(N_("There is nothing to cancel.")))
    notice = ctx._(N_("Cancelled. Nothing was deleted.")) if ctx.state.flow == "forget" \
        else ctx._(N_("Cancelled. Nothing was saved."))
    return Go("menu.idle" if ctx.consented else "start.welcome", notice=notice)


async def open_deep_link(payload: str, ctx: Ctx) -> Go | None:
    prefix, _, rest = payload.partition("-")
    handler = DEEP_LINKS.get(prefix)
    return await handler(rest, ctx) if handler and rest else None
