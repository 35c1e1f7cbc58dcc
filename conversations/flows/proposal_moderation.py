"""Proposals waiting for moderation, decided in the moderators' group.

A citizen's proposal is stored as "pending" and posted to the moderators'
group through the outbox, with "Publish" / "Reject with reason" (global
buttons: the role is checked on every press). Publishing and rejecting go
through :func:`conversations.flows.proposal_news.change_status`, so the
author (and anyone who rated it) hears about it in their language.

"Reject with reason" asks the group for the reason (a post of the bot's,
through the outbox so that its message id is known); a moderator's reply to
that question is the reason. ``/publish PR-45`` and ``/reject PR-45 reason``
do the same from anywhere. The group post is then edited to say who decided,
and the audit log keeps who, what, when and why.

Two moderators deciding at once: the proposal row is locked while it is
still pending (:meth:`SqlProposals.lock_pending`); the second one is told
it was already decided.
"""

from __future__ import annotations

from dataclasses import dataclass

from conversations import roles
from conversations.callback import CallbackData
from conversations.flow import Ctx, Go, global_button, stay
from conversations.flows.proposal_news import change_status
from conversations.flows.proposals import STATUS_LABELS, proposals
from conversations.flows.staff import display_name
from conversations.flows.tickets import group_t, moderator_name, moderators_chat
from conversations.i18n import N_, Translator, pick
from conversations.sent_hooks import sent_hook
from conversations.text import escape, reference
from conversations.vocabulary import Edit, EditPost, Event, Keyboard, Notify, Reply, Send
from storage.records import ProposalRecord
from storage.unit_of_work import UnitOfWork

REASON_LIMIT = 500


def proposal_ref(proposal_id: int) -> str:
    return reference("PR", proposal_id)


def parse_ref(text: str) -> int | None:
    """PR-45, PR-000045, pr45 or 45 → 45."""
    value = text.strip().upper().removeprefix("PR").lstrip("-")
    return int(value) if value.isdigit() and len(value) < 12 else None


# -- the post in the group ----------------------------------------------------------

async def post_text(ctx: Ctx, t: Translator, proposal: ProposalRecord,
                    outcome: str | None = None) -> str:
    """The proposal as moderators read it: reference, lab, service, author, text."""
    default = ctx.settings.default_language
    lab = await ctx.uow.catalog.lab(proposal.lab_id)
    where = [escape(pick(lab.title, t.language, default))] if lab else []
    service = await ctx.uow.catalog.service(proposal.service_id) \
        if proposal.service_id else None
    where.append(escape(pick(service.title, t.language, default)) if service
                 else t.gettext(N_("General (the whole laboratory)")))
    author = await ctx.uow.staff.by_citizen_id(proposal.citizen_id) \
        if proposal.citizen_id is not None else None
    language = next(iter(proposal.title), "")
    lines = ["📝 <b>" + t.gettext(N_("New proposal {ref}")).format(
                 ref=proposal_ref(proposal.id)) + "</b> · " + " · ".join(where),
             (display_name(author) if author else "—") + (f" · {language}" if language else ""),
             "",
             "<b>" + escape(pick(proposal.title, t.language, default)) + "</b>",
             escape(pick(proposal.description, t.language, default))]
    if outcome:
        lines += ["", outcome]
    return "\n".join(lines)


def post_buttons(t: Translator, proposal_id: int) -> Keyboard:
    return ((global_button("✅ " + t.gettext(N_("Publish")), "pr", "publish", proposal_id),
             global_button("🚫 " + t.gettext(N_("Reject with reason")), "pr", "reject",
                           proposal_id)),)


async def post_for_review(ctx: Ctx, proposal_id: int) -> list[Reply]:
    """Queue a new proposal's post to the moderators' group (none configured:
    it waits for ``/publish`` or ``participa proposals status``)."""
    group = await moderators_chat(ctx)
    proposal = await ctx.uow.proposals.get(proposal_id)
    if group is None or proposal is None:
        return []
    await ctx.uow.reviews.posted(proposal_id, group)
    t = group_t(ctx)
    return [Notify(group, await post_text(ctx, t, proposal), post_buttons(t, proposal_id),
                   key=f"proposal:{proposal_id}:review", on_sent=f"proposal_post:{proposal_id}")]


def outcome_line(t: Translator, status: str, who: str, reason: str | None) -> str:
    if status == "published":
        return "✅ " + t.gettext(N_("Published by {name}.")).format(name=escape(who))
    line = "🚫 " + t.gettext(N_("Rejected by {name}.")).format(name=escape(who))
    if reason:
        line += " " + t.gettext(N_("Reason: {answer}")).format(answer=escape(reason))
    return line


# -- deciding -------------------------------------------------------------------------

@dataclass(frozen=True)
class Decision:
    notice: str  # for the moderator, in their language
    post: str | None = None  # the group post's new text (None: refused)


async def decide(ctx: Ctx, proposal_id: int, status: str, reason: str | None) -> Decision:
    """Publish or reject a pending proposal: its status (and the news to those
    who took part), the audit log, and the group post's new text."""
    ref = proposal_ref(proposal_id)
    proposal = await ctx.uow.proposals.lock_pending(proposal_id)
    if proposal is None:
        found = await ctx.uow.proposals.get(proposal_id)
        if found is None:
            return Decision(ctx._(N_("There is no proposal {ref}.")).format(ref=ref))
        return Decision(ctx._(N_("{ref} is not waiting for moderation any more; its status is: "
                                 "{status}.")).format(
            ref=ref, status=ctx._(STATUS_LABELS[found.status])))
    changed = await change_status(ctx.uow, proposal.slug, status, reason, ctx.now,
                                  language=ctx.settings.default_language,
                                  timezone=ctx.settings.timezone)
    assert changed is not None
    author = await ctx.uow.staff.by_citizen_id(proposal.citizen_id) \
        if proposal.citizen_id is not None else None
    await ctx.uow.audit.record(ctx.event.user.id, "publish" if status == "published"
                               else "reject", ref, ctx.now, reason=reason,
                               target_telegram_id=author.telegram_id if author else None)
    decided = await ctx.uow.proposals.get(proposal_id)
    assert decided is not None
    t = group_t(ctx)
    post = await post_text(ctx, t, decided, outcome_line(t, status, moderator_name(ctx),
                                                         reason))
    told = changed[1]
    said = N_("{ref} is published.") if status == "published" else N_("{ref} is rejected.")
    notice = ctx._(said).format(ref=ref) + " " + ctx.ngettext(
        "{count} citizen has been told.", "{count} citizens have been told.", told).format(
        count=ctx.t.number(told))
    return Decision(notice, post=post)


async def _edit_post(ctx: Ctx, proposal_id: int, text: str) -> tuple[Reply, ...]:
    """The decided post, edited through the outbox (a command or a reply decided it)."""
    review = await ctx.uow.reviews.get(proposal_id)
    if review is None or review.post_message_id is None:
        return ()
    return (EditPost(review.chat_id, review.post_message_id, text,
                     key=f"proposal:{proposal_id}:decided"),)


async def decided_elsewhere(ctx: Ctx, proposal_id: int, status: str,
                            reason: str | None) -> list[Reply]:
    """A decision by command or by reply: the notice, and the post edited."""
    decision = await decide(ctx, proposal_id, status, reason)
    replies: list[Reply] = []
    if decision.post is not None:
        replies += await _edit_post(ctx, proposal_id, decision.post)
    replies.append(Send(decision.notice))
    return replies


async def _is_moderator(ctx: Ctx) -> bool:
    return roles.includes(await roles.role_of(ctx), roles.MODERATOR)


async def _refreshed(ctx: Ctx, proposal_id: int, answer: str) -> Go:
    """The post of a proposal decided already: shown as it is now, without buttons."""
    found = await ctx.uow.proposals.get(proposal_id)
    if found is None:
        return Go(answer=answer, show=False)
    t = group_t(ctx)
    label = "ℹ️ " + t.gettext(N_("Status: {status}")).format(
        status=t.gettext(STATUS_LABELS[found.status]))
    return Go(answer=answer, show=False,
              replies=(Edit(await post_text(ctx, t, found, label)),))


@proposals.action("publish")
async def publish_button(data: CallbackData, ctx: Ctx) -> Go:
    if not await _is_moderator(ctx):
        return Go(answer=ctx._(N_("Only moderators can do this.")), show=False)
    proposal_id = data.int_id()
    if proposal_id is None:
        return Go(answer=ctx._(N_("This button has expired.")), show=False)
    decision = await decide(ctx, proposal_id, "published", None)
    if decision.post is None:
        return await _refreshed(ctx, proposal_id, decision.notice)
    return Go(answer=decision.notice, show=False, replies=(Edit(decision.post),))


@proposals.action("reject")
async def reject_button(data: CallbackData, ctx: Ctx) -> Go:
    """Ask the group for the reason; a reply to that question rejects it."""
    if not await _is_moderator(ctx):
        return Go(answer=ctx._(N_("Only moderators can do this.")), show=False)
    proposal_id = data.int_id()
    found = await ctx.uow.proposals.get(proposal_id) if proposal_id is not None else None
    if found is None or proposal_id is None:
        return Go(answer=ctx._(N_("This button has expired.")), show=False)
    if found.status != "pending":
        return await _refreshed(ctx, proposal_id, ctx._(
            N_("{ref} is not waiting for moderation any more; its status is: {status}.")).format(
            ref=proposal_ref(proposal_id), status=ctx._(STATUS_LABELS[found.status])))
    await ctx.uow.reviews.posted(proposal_id, ctx.event.chat.id)
    t = group_t(ctx)
    ref = proposal_ref(proposal_id)
    question = "✍️ " + t.gettext(N_(
        "{name}, why is {ref} rejected? Reply to this message with the reason (its author "
        "reads it), or write /reject {ref} and the reason.")).format(
        name=escape(moderator_name(ctx)), ref=ref)
    key = f"proposal:{proposal_id}:prompt:{ctx.event.update_id or ctx.event.message_id}"
    return Go(answer=ctx._(N_("Reply to my question in the group with the reason.")),
              show=False,
              replies=(Notify(ctx.event.chat.id, question, thread_id=ctx.event.chat.thread_id,
                              key=key,
                              on_sent=f"proposal_prompt:{proposal_id}:{ctx.event.chat.id}"),))


async def reason_reply(ctx: Ctx) -> list[Reply] | None:
    """A moderator's reply to the bot's question for a reason; None when the
    message is not such a reply (it may be about a ticket)."""
    event = ctx.event
    if not ctx.in_moderators_chat or event.reply_to_message_id is None:
        return None
    proposal_id = await ctx.uow.reviews.by_prompt(event.chat.id, event.reply_to_message_id)
    if proposal_id is None:
        return None
    if not await _is_moderator(ctx):
        return []  # not a moderator: people talking among themselves
    if event.kind != "text":
        return [Send(ctx._(N_("Please write the reason as a text message.")))]
    reason = (event.text or "").strip()
    if not reason:
        return [Send(ctx._(N_("The reason is empty. Please write it as a reply to my "
                              "question.")))]
    if len(reason) > REASON_LIMIT:
        return [Send(ctx._(N_("The reason is too long: at most {max} characters.")).format(
            max=ctx.t.number(REASON_LIMIT)))]
    return await decided_elsewhere(ctx, proposal_id, "rejected", reason)


@roles.staff_command("publish", roles.MODERATOR,
                     N_("Publish a proposal waiting for moderation: /publish PR-45"))
async def publish_command(event: Event, ctx: Ctx) -> Go:
    proposal_id = parse_ref(event.args)
    if proposal_id is None:
        return stay(ctx._(N_("Use it like this: /publish PR-45")))
    return Go(show=False, replies=tuple(await decided_elsewhere(ctx, proposal_id, "published",
                                                                None)))


@roles.staff_command("reject", roles.MODERATOR,
                     N_("Reject a proposal, with the reason: /reject PR-45 reason"))
async def reject_command(event: Event, ctx: Ctx) -> Go:
    ref, _, reason = event.args.strip().partition(" ")
    proposal_id = parse_ref(ref)
    reason = reason.strip()
    if proposal_id is None or not reason:
        return stay(ctx._(N_("Use it like this: /reject PR-45 the reason (its author reads "
                             "it).")))
    if len(reason) > REASON_LIMIT:
        return stay(ctx._(N_("The reason is too long: at most {max} characters.")).format(
            max=ctx.t.number(REASON_LIMIT)))
    return Go(show=False, replies=tuple(await decided_elsewhere(ctx, proposal_id, "rejected",
                                                                reason)))


# -- what the outbox tells back -----------------------------------------------------

@sent_hook("proposal_post")
async def posted(uow: UnitOfWork, arg: str, message_id: int | None) -> None:
    if arg.isdigit() and message_id is not None:
        await uow.reviews.set_post(int(arg), message_id)


@sent_hook("proposal_prompt")
async def asked(uow: UnitOfWork, arg: str, message_id: int | None) -> None:
    proposal, _, chat = arg.partition(":")  # "45:-100123"
    if proposal.isdigit() and chat.lstrip("-").isdigit() and message_id is not None:
        await uow.reviews.set_prompt(int(proposal), int(chat), message_id)
