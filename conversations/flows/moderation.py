"""Moderation: /hide what a citizen wrote, /block and /unblock a citizen.

``/hide REF reason`` works on any kind of content registered in
:data:`HIDEABLE` by its reference prefix: opinions' comments (``OP-123``)
and published proposals (``PR-45``, which then leave lists, detail views,
exports and reports; their ratings stay). Each entry is the prefix, the kind
stored in ``hidden_content``, a function that finds the author (a
:class:`PersonRecord`, ``None`` when erased or not a citizen, ``False`` when
there is nothing to hide) and the words the author is told.

A blocked citizen's messages are kept, not relayed to the team, and they are
told once, politely (see :mod:`conversations.flows.tickets`). Every action
is in the audit log.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from conversations import roles
from conversations.flow import Ctx, Go, stay
from conversations.flows.onboarding import PRIVACY_PURPOSE
from conversations.flows.staff import display_name, find_person
from conversations.i18n import N_, translator
from conversations.text import escape, reference
from conversations.vocabulary import Event, Notify
from storage.records import VISIBLE_STATUSES, PersonRecord

REASON_LIMIT = 500

Author = Callable[[Ctx, int], Awaitable["PersonRecord | bool | None"]]


@dataclass(frozen=True)
class Hideable:
    kind: str  # hidden_content.kind
    prefix: str  # the reference's prefix: OP-000123
    author: Author
    told: str  # what the author reads, with {ref} and {reason}


async def _opinion_author(ctx: Ctx, item_id: int) -> PersonRecord | bool | None:
    return await ctx.uow.moderation.opinion_author(item_id)


async def _proposal_author(ctx: Ctx, item_id: int) -> PersonRecord | bool | None:
    """Only a proposal others can see can be hidden (a pending one is rejected)."""
    proposal = await ctx.uow.proposals.get(item_id)
    if proposal is None or proposal.status not in VISIBLE_STATUSES:
        return False
    if proposal.citizen_id is None:  # written by staff or a workshop, or erased
        return None
    return await ctx.uow.staff.by_citizen_id(proposal.citizen_id)


HIDEABLE: dict[str, Hideable] = {
    "OP": Hideable("opinion", "OP", _opinion_author,
                   N_("A moderator has hidden the comment of your opinion {ref}. Your rating "
                      "still counts. The reason: {reason}")),
    "PR": Hideable("proposal", "PR", _proposal_author,
                   N_("A moderator has hidden your proposal {ref}: it is no longer shown to "
                      "others. The ratings it received are kept. The reason: {reason}")),
}


def parse_reference(text: str) -> tuple[Hideable, int] | None:
    prefix, _, number = text.strip().upper().partition("-")
    hideable = HIDEABLE.get(prefix)
    if hideable is None or not number.isdigit() or len(number) > 12:
        return None
    return hideable, int(number)


@roles.staff_command("hide", roles.MODERATOR,
                     N_("Hide a comment or a proposal: /hide OP-123 reason"))
async def hide(event: Event, ctx: Ctx) -> Go:
    ref, _, reason = event.args.strip().partition(" ")
    reason = reason.strip()
    found = parse_reference(ref)
    if found is None or not reason:
        kinds = ", ".join(f"{p}-123" for p in HIDEABLE)
        return stay(ctx._(N_("Use it like this: /hide OP-123 the reason (the author reads it). "
                             "You can hide: {kinds}.")).format(kinds=kinds))
    if len(reason) > REASON_LIMIT:
        return stay(ctx._(N_("The reason is too long: at most {max} characters.")).format(
            max=ctx.t.number(REASON_LIMIT)))
    hideable, item_id = found
    ref = reference(hideable.prefix, item_id)
    author = await hideable.author(ctx, item_id)
    if author is False:
        return stay(ctx._(N_("There is nothing to hide in {ref}.")).format(ref=ref))
    if not await ctx.uow.moderation.hide(hideable.kind, item_id, reason, event.user.id,
                                         ctx.now):
        return stay(ctx._(N_("{ref} was already hidden.")).format(ref=ref))
    await ctx.uow.audit.record(event.user.id, "hide", ref, ctx.now, reason=reason,
                               target_telegram_id=author.telegram_id
                               if isinstance(author, PersonRecord) else None)
    replies = ()
    if isinstance(author, PersonRecord) and await ctx.uow.citizens.has_consent(
            author.citizen_id, PRIVACY_PURPOSE):
        t = translator(author.language, ctx.settings.timezone)
        replies = (Notify(author.telegram_id, t.gettext(hideable.told).format(
            ref=ref, reason=escape(reason)), key=f"hidden:{hideable.kind}:{item_id}"),)
    said = ctx._(N_("{ref} is hidden; its author has been told.")) if replies \
        else ctx._(N_("{ref} is hidden."))
    return Go(notice=said.format(ref=ref), replies=replies)


async def _target(event: Event, ctx: Ctx) -> tuple[PersonRecord | str, str]:
    target, _, reason = event.args.strip().partition(" ")
    if target and not (target.startswith("@") or target.lstrip("-").isdigit()):
        target, reason = "", event.args.strip()  # a reply to a ticket, with a reason
    return await find_person(event, ctx, target), reason.strip()[:REASON_LIMIT]


@roles.staff_command("block", roles.MODERATOR, N_("Stop relaying a citizen's messages"))
async def block(event: Event, ctx: Ctx) -> Go:
    person, reason = await _target(event, ctx)
    if isinstance(person, str):
        return stay(person)
    if not await ctx.uow.moderation.block(person.citizen_id, event.user.id, reason or None,
                                          ctx.now):
        return stay(ctx._(N_("{person} was already blocked.")).format(
            person=display_name(person)))
    await ctx.uow.audit.record(event.user.id, "block", f"citizen:{person.citizen_id}",
                               ctx.now, reason=reason or None,
                               target_telegram_id=person.telegram_id)
    return stay(ctx._(N_("{person} is blocked: their messages are kept but not relayed. "
                         "They will be told once, politely.")).format(
        person=display_name(person)))


@roles.staff_command("unblock", roles.MODERATOR, N_("Relay a blocked citizen's messages again"))
async def unblock(event: Event, ctx: Ctx) -> Go:
    person, reason = await _target(event, ctx)
    if isinstance(person, str):
        return stay(person)
    if not await ctx.uow.moderation.unblock(person.citizen_id):
        return stay(ctx._(N_("{person} was not blocked.")).format(person=display_name(person)))
    await ctx.uow.audit.record(event.user.id, "unblock", f"citizen:{person.citizen_id}",
                               ctx.now, reason=reason or None,
                               target_telegram_id=person.telegram_id)
    return stay(ctx._(N_("{person} is unblocked.")).format(person=display_name(person)))
