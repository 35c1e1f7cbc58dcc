"""Status news: when staff change a proposal's status, everyone who took part hears.

``participa proposals status`` calls :func:`change_status`; the message it
queues (one per citizen, in their language, through the outbox) carries an
"Open the proposal" button that works from any message and rechecks the
proposal when pressed.
"""

from __future__ import annotations

from datetime import datetime

from conversations.callback import CallbackData
from conversations.flow import Ctx, Go, global_button
from conversations.flows.proposals import STATUS_LABELS, browsable_labs, content, proposals
from conversations.i18n import N_, pick
from conversations.text import escape, reference
from conversations.vocabulary import Keyboard, Notify
from storage.records import VISIBLE_STATUSES, ProposalRecord


def status_message(proposal: ProposalRecord, t, was_author: bool) -> str:  # type: ignore[no-untyped-def]
    """The news about a proposal someone took part in, in their language."""
    intro = (t.gettext(N_("📣 News about your proposal:")) if was_author
             else t.gettext(N_("📣 News about a proposal you rated:")))
    lines = [intro, "",
             "<b>" + escape(content(proposal.title, t)) + "</b> ("
             + reference("PR", proposal.id) + ")",
             t.gettext(N_("New status: {status}")).format(
                 status="<b>" + t.gettext(STATUS_LABELS[proposal.status]) + "</b>")]
    if proposal.answer:
        label = (N_("Reason: {answer}") if proposal.status == "rejected"
                 else N_("Answer from the administration: {answer}"))
        lines.append(t.gettext(label).format(answer=escape(pick(proposal.answer,
                                                                 t.language))))
    lines += ["", t.gettext(N_("You can switch these messages off with /notifications."))]
    return "\n".join(lines)


def status_buttons(proposal: ProposalRecord, t) -> Keyboard:  # type: ignore[no-untyped-def]
    """"Open the proposal" under the news, while others can see it."""
    if proposal.status not in VISIBLE_STATUSES:
        return ()
    return ((global_button("💡 " + t.gettext(N_("Open the proposal")), "pr", "show",
                           proposal.id),),)


@proposals.action("show")
async def show_from_news(data: CallbackData, ctx: Ctx) -> Go:
    """The button under a status message: works from any message, rechecked on press."""
    proposal_id = data.int_id()
    found = await ctx.uow.proposals.visible(proposal_id) if ctx.consented and proposal_id \
        else None
    labs = await browsable_labs(ctx) if found else []
    if found is None or not any(lab.id == found.lab_id for lab in labs):
        return Go(answer=ctx._(N_("Sorry, that proposal is not available.")), show=False)
    return Go("pr.detail", carry={
        "lab_id": found.lab_id, "single_lab": len(labs) == 1, "page": 0,
        "order": "newest", "service_id": None, "proposal_id": found.id})


async def change_status(uow, slug: str, status: str, reason: str | None, now: datetime,  # type: ignore[no-untyped-def]
                        *, language: str, timezone: str) -> tuple[str, int] | None:
    """Change a proposal's status and queue one message to each citizen who took
    part, in the caller's transaction. (previous status, messages queued), or None.

    ``reason`` (in ``language``) becomes the proposal's answer; a new status
    without one clears the previous status's answer."""
    from conversations.engine import notification
    from conversations.i18n import translator

    answer = {language: reason.strip()} if reason and reason.strip() else None
    change = await uow.proposals.change_status(slug, status, answer, now)
    if change is None:
        return None
    queued = 0
    if change.previous != status:
        for person in change.recipients:
            t = translator(person.language, timezone)
            text = status_message(change.proposal, t,
                                  was_author=person.citizen_id == change.proposal.citizen_id)
            key = f"proposal-status:{change.proposal.id}:{status}:{person.citizen_id}"
            buttons = status_buttons(change.proposal, t)
            if await uow.outbox.enqueue(notification(
                    Notify(person.telegram_id, text, buttons, key=key), now)) is not None:
                queued += 1
    return change.previous, queued
