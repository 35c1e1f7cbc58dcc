"""Events in the moderators' group: staff commands, answers to tickets, buttons.

The group is a workplace, not a journey: there is no conversation state
here. Commands are role-checked as anywhere else (one place,
:mod:`conversations.roles`); an unknown one, or one the person may not use,
gets the same short answer. Text and media count only when they are about a
ticket (in its topic, or a reply to one of its messages) and come from a
moderator; everything else is people talking among themselves.
"""

from __future__ import annotations

from conversations import commands, roles
from conversations.callback import parse
from conversations.flow import Ctx, Flow, Go, Gone
from conversations.flows.proposal_moderation import reason_reply
from conversations.flows.tickets import buttons_answer, on_group_message
from conversations.i18n import N_
from conversations.vocabulary import Answer, Event, Reply, Send


async def route(event: Event, ctx: Ctx) -> list[Reply]:
    try:
        if event.kind == "button":
            return await _button(event, ctx)
        if event.kind == "command":
            return _replies(await _command(event, ctx))
        if event.kind in ("text", "media"):
            # A reply to the bot's question for a proposal's rejection reason,
            # else maybe an answer to a ticket.
            reason = await reason_reply(ctx)
            return reason if reason is not None else await on_group_message(ctx)
        return []
    except Gone:
        gone = ctx._(N_("Sorry, that is no longer available."))
        return [Answer(gone)] if event.kind == "button" else [Send(gone)]


async def _command(event: Event, ctx: Ctx) -> Go:
    staff = await roles.allowed(event.command or "", ctx)
    if staff is not None:
        return await staff.handler(event, ctx)
    if event.command == "help":
        listed = await commands.staff_help(ctx)
        if listed:  # what the person's role allows; nothing for anyone else
            return Go(show=False, notice=listed.strip())
    return Go(show=False, notice=ctx._(N_("I don't know the command /{command} here.")).format(
        command=event.command or ""))


def _replies(go: Go) -> list[Reply]:
    replies: list[Reply] = list(go.replies)
    if go.notice:
        replies.append(Send(go.notice))
    return replies


async def _button(event: Event, ctx: Ctx) -> list[Reply]:
    data = parse(event.data)
    flow = Flow.registry.get(data.flow) if data else None
    action = flow.actions.get(data.action) if flow and data and data.step is None else None
    if data is None or action is None:
        return [Answer(ctx._(N_("This button has expired.")))]
    return buttons_answer(await action(data, ctx))
