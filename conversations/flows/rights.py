"""A citizen's rights over their data: /privacy, /mydata, /deleteme.

```mermaid
stateDiagram-v2
    [*] --> notice: /privacy (the notice and the consents given)
    notice --> confirm_withdrawal: Withdraw my consent
    confirm_withdrawal --> start.welcome: Yes, withdraw
    [*] --> file: /mydata (a JSON file and a summary)
    [*] --> forget.confirm: /deleteme
    forget.confirm --> [*]: Delete everything / keep my comments anonymously
    forget.confirm --> menu.idle: Cancel
```

The privacy buttons act on a consent, not on a step: they work from any
message and recheck the consent on every press. /mydata and /deleteme work
for anyone, with or without consent: a person who never said OK still has
a conversation state (and the right to have it erased).
"""

from __future__ import annotations

import json

from conversations.callback import CallbackData
from conversations.flow import Ctx, Flow, Go, Screen, State, global_button, stay
from conversations.flows import workshops as workshop_journey
from conversations.flows.onboarding import PRIVACY_PURPOSE, privacy_notice
from conversations.flows.workshops import PURPOSE as WORKSHOP_PURPOSE
from conversations.i18n import N_
from conversations.text import escape
from conversations.vocabulary import Document, Edit, Send

privacy = Flow("privacy", entry="", needs_consent=False)
forget = Flow("forget", entry="confirm", needs_consent=False)

PURPOSES = {PRIVACY_PURPOSE: N_("Taking part (privacy notice)"),
            WORKSHOP_PURPOSE: N_("Workshop registration")}

# What each table means to a citizen, for the summaries.
TABLE_LABELS = {
    "citizens": N_("Your profile"),
    "consents": N_("Consents"),
    "notification_preferences": N_("Notification preferences"),
    "roles": N_("Roles"),
    "opinions": N_("Opinions"),
    "proposals": N_("Proposals"),
    "proposal_ratings": N_("Ratings of proposals"),
    "conversation_states": N_("Where you are in the conversation"),
    "outbox": N_("Messages to you"),
    "outbox_cancelled": N_("Messages to you not sent yet (cancelled)"),
    "tickets": N_("Your questions to the team"),
    "ticket_messages": N_("Messages with the team"),
    "moderation_blocks": N_("Moderation blocks"),
    "audit_log": N_("Moderation and role records"),
    "hidden_content": N_("Hidden comments"),
    "broadcasts": N_("Broadcasts you wrote"),
    "registrations": N_("Workshop sign-ups"),
    "registration_answers": N_("Answers to workshop questions"),
    "sensitive_answers": N_("Sensitive answers to workshop questions"),
}


async def privacy_overview(ctx: Ctx) -> Send:
    text = privacy_notice(ctx)
    rows = []
    if ctx.citizen is not None:
        for consent in await ctx.uow.citizens.consents(ctx.citizen.id):
            label = ctx._(PURPOSES.get(consent.purpose, consent.purpose))
            if consent.withdrawn_at is None:
                text += "\n\n✅ " + ctx._(N_("{purpose}: consent given on {date} (version "
                                             "{version}).")).format(
                    purpose=escape(label), date=ctx.t.datetime(consent.given_at, "short"),
                    version=escape(consent.version))
                rows.append((global_button(ctx._(N_("Withdraw: {purpose}")).format(
                    purpose=label), "privacy", "withdraw", consent.purpose),))
            else:
                text += "\n\n↩️ " + ctx._(N_("{purpose}: consent withdrawn on {date}.")).format(
                    purpose=escape(label), date=ctx.t.datetime(consent.withdrawn_at, "short"))
    text += "\n\n" + ctx._(N_("/mydata sends you a copy of everything we keep about you. "
                              "/deleteme deletes it."))
    return Send(text, tuple(rows))


@privacy.action("withdraw")
async def ask_withdrawal(data: CallbackData, ctx: Ctx) -> Go:
    purpose = data.id() or ""
    if not await _active(purpose, ctx):
        return Go(answer=ctx._(N_("This button has expired.")), show=False)
    text = ctx._(N_("If you withdraw your consent, you won't be able to take part until you "
                    "accept the privacy notice again. What you already sent is kept until you "
                    "delete it with /deleteme, or for at most {days} days.")).format(
        days=ctx.t.number(ctx.settings.retention_days))
    return Go(show=False, replies=(Edit(text, (
        (global_button(ctx._(N_("Yes, withdraw")), "privacy", "confirm", purpose),
         global_button(ctx._(N_("No, keep it")), "privacy", "keep")),)),))


@privacy.action("confirm")
async def withdraw(data: CallbackData, ctx: Ctx) -> Go:
    purpose = data.id() or ""
    if not await _active(purpose, ctx):
        return Go(answer=ctx._(N_("This button has expired.")), show=False)
    assert ctx.citizen is not None
    await ctx.uow.citizens.withdraw_consent(ctx.citizen.id, purpose, ctx.now)
    if purpose == WORKSHOP_PURPOSE:
        # Only what the workshops send them stops (cancelled with each place).
        offers = await workshop_journey.withdraw_consent(ctx)
        done = ctx._(N_("Your consent for workshops is withdrawn and your places in upcoming "
                        "workshops are cancelled. You can sign up again at any time."))
        return Go(replies=(Edit(done), *offers), show=False)
    await ctx.uow.outbox.cancel_to(ctx.citizen.telegram_id, "consent withdrawn")
    done = ctx._(N_("Your consent is withdrawn. We won't send you anything. You can accept "
                    "the notice again at any time with /start."))
    if purpose == PRIVACY_PURPOSE:
        return Go("start.welcome", replies=(Edit(done),), show=False)
    return Go(replies=(Edit(done),), show=False)


@privacy.action("keep")
async def keep(data: CallbackData, ctx: Ctx) -> Go:
    return Go(show=False, replies=(Edit("✅ " + ctx._(N_("Your consent is kept."))),))


async def _active(purpose: str, ctx: Ctx) -> bool:
    if ctx.citizen is None:
        return False
    return any(c.purpose == purpose and c.withdrawn_at is None
               for c in await ctx.uow.citizens.consents(ctx.citizen.id))


def summary(ctx: Ctx, counts: dict[str, int]) -> str:
    lines = [f"• {ctx._(TABLE_LABELS.get(name, name))}: {ctx.t.number(count)}"
             for name, count in counts.items() if count]
    return "\n".join(lines) or ctx._(N_("(nothing)"))


async def my_data(ctx: Ctx) -> Go:
    found = await ctx.uow.personal.collect(ctx.event.user.id)
    counts = {name: len(rows) for name, rows in found.items()}
    content = json.dumps({"generated_at": ctx.now.isoformat(), "data": found},
                         ensure_ascii=False, indent=2, default=str).encode()
    text = ctx._(N_("📄 This file has everything we keep about you:")) + "\n" + \
        summary(ctx, counts)
    name = f"participa-my-data-{ctx.now:%Y-%m-%d}.json"
    return Go(show=False, replies=(Document(name, content, caption=None), Send(text)))


@forget.state("confirm")
class ConfirmErasure(State):
    help = N_("Choose whether to delete everything or to keep your comments without your "
              "name. “Cancel” deletes nothing.")

    async def show(self, ctx: Ctx) -> Screen:
        text = ctx._(N_("⚠️ This deletes your profile, your consents, your preferences and "
                        "this conversation. Your ratings stay in the totals, without your "
                        "name.\n\nWhat should we do with your comments, voice notes and "
                        "photos?"))
        return Screen(text, (
            (ctx.button("🗑 " + ctx._(N_("Delete everything")), "all"),),
            (ctx.button(ctx._(N_("Keep my comments without my name")), "keep"),),
            (ctx.button("✖️ " + ctx._(N_("Cancel")), "cancel"),),
        ))

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action not in ("all", "keep"):
            return None
        erased = await ctx.uow.personal.erase(ctx.event.user.id,
                                              keep_comments=data.action == "keep", now=ctx.now)
        ctx.forgotten = True
        text = "\n".join([
            "✅ " + ctx._(N_("Done. This is what we deleted:")),
            summary(ctx, erased.counts),
            "",
            ctx._(N_("Your comments stay, without your name.")) if erased.kept_comments
            else ctx._(N_("Your comments, voice notes and photos are deleted.")),
            ctx._(N_("What we could not delete: the messages in this chat, which Telegram "
                     "keeps on your phone; you can delete the chat yourself.")),
            *([ctx.ngettext("Nor {count} of your messages in the moderators' group: it is "
                            "older than 48 hours and Telegram no longer lets us delete it.",
                            "Nor {count} of your messages in the moderators' group: they are "
                            "older than 48 hours and Telegram no longer lets us delete them.",
                            erased.kept_in_group).format(
                count=ctx.t.number(erased.kept_in_group))] if erased.kept_in_group else []),
            ctx._(N_("If you come back, /start begins again.")),
        ])
        return Go(show=False, replies=(Edit(text),), answer=ctx._(N_("Deleted.")))

    async def on_text(self, text: str, ctx: Ctx) -> Go:
        return stay(ctx._(N_("Please choose one of the options with the buttons.")))
