"""First contact: welcome and language, the privacy notice, consent.

Nothing beyond the Telegram id is stored before "OK": no citizen row exists
until then (the conversation state keeps only the step and the language
chosen, so the notice can be shown in it).

```mermaid
stateDiagram-v2
    [*] --> welcome: /start [payload]
    welcome --> welcome: a language
    welcome --> privacy: Continue
    privacy --> welcome: Back
    privacy --> menu.idle: OK (consent row, citizen row)
    privacy --> deep_link: OK with a /start payload
    privacy --> declined: No thanks
    declined --> privacy: I changed my mind
```
"""

from __future__ import annotations

from dataclasses import replace

from conversations.callback import CallbackData
from conversations.commands import open_deep_link
from conversations.flow import Ctx, Flow, Go, Screen, State, stay
from conversations.flows.preferences import language_buttons, switch_language
from conversations.i18n import N_, available_languages
from conversations.text import escape

PRIVACY_PURPOSE = "privacy"

onboarding = Flow("start", entry="welcome", needs_consent=False)


async def begin(payload: str, ctx: Ctx) -> Go:
    """/start: a consented citizen goes where the link says, anyone else is welcomed."""
    if ctx.consented:
        if payload:
            opened = await open_deep_link(payload, ctx)
            if opened:
                return opened
        return Go("menu.idle", notice=ctx._(N_("Welcome back!")))
    carry = {"payload": payload} if payload else {}
    if "lang" in ctx.data:
        carry["lang"] = ctx.data["lang"]
    ctx.state.data = carry
    return Go("start.welcome")


def privacy_notice(ctx: Ctx) -> str:
    s = ctx.settings
    return "\n\n".join([
        "🔒 <b>" + ctx._(N_("Your privacy")) + "</b>",
        ctx._(N_("<b>Who is responsible:</b> {controller}.")).format(
            controller=escape(s.controller_name)),
        ctx._(N_("<b>What we keep:</b> your Telegram user ID, your name and username as "
                 "Telegram shows them, your language, and what you send us here (opinions, "
                 "ratings, comments, voice notes, photos).")),
        ctx._(N_("<b>Why:</b> to listen to citizens and improve public services. Your opinions "
                 "are published only as totals, never with your name.")),
        ctx._(N_("<b>How long:</b> while you take part, and at most {days} days after your "
                 "last message.")).format(days=ctx.t.number(s.retention_days)),
        ctx._(N_("<b>Your rights:</b> you can see, correct or delete your data, or withdraw "
                 "your consent, at any time: write to {contact}.")).format(
            contact=escape(s.controller_contact)),
    ])


@onboarding.state("welcome")
class Welcome(State):
    help = N_("Choose your language with the buttons, then tap “Continue”.")

    async def show(self, ctx: Ctx) -> Screen:
        text = ctx._(N_("👋 Hello! This is the participation channel of {controller}. Here you "
                        "can give your opinion on public services and help improve them.\n\n"
                        "Choose your language and tap “Continue”.")).format(
            controller=escape(ctx.settings.controller_name))
        rows = language_buttons(ctx, lambda label, code: ctx.button(label, "lang", code))
        return Screen(text, (*rows, (ctx.button(ctx._(N_("Continue")) + " ➡️", "next"),)))

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action == "lang" and data.id() in available_languages():
            await switch_language(data.id() or "", ctx)
            return stay()
        if data.action == "next":
            return Go("privacy")
        return None

    async def on_text(self, text: str, ctx: Ctx) -> Go:
        return stay(ctx._(N_("Before we start, please choose your language and tap "
                             "“Continue”.")))

    async def on_media(self, media, ctx: Ctx) -> Go:  # type: ignore[no-untyped-def]
        return await self.on_text("", ctx)


@onboarding.state("privacy")
class PrivacyNotice(State):
    help = N_("Read how we look after your data. Tap “OK” to take part, or “No thanks”.")

    async def show(self, ctx: Ctx) -> Screen:
        return Screen(privacy_notice(ctx), (
            (ctx.button("✅ " + ctx._(N_("OK")), "ok"),
             ctx.button(ctx._(N_("No thanks")), "no")),
            (ctx.button("⬅️ " + ctx._(N_("Back")), "back"),),
        ))

    async def back_to(self, ctx: Ctx) -> str | None:
        return "welcome"

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if data.action == "ok":
            return await consent_given(ctx)
        if data.action == "no":
            return Go("declined")
        return None

    async def on_text(self, text: str, ctx: Ctx) -> Go:
        return stay(ctx._(N_("To take part, please tap “OK” below the privacy notice, "
                             "or “No thanks”.")))

    async def on_media(self, media, ctx: Ctx) -> Go:  # type: ignore[no-untyped-def]
        return await self.on_text("", ctx)


async def consent_given(ctx: Ctx) -> Go:
    who = ctx.event.user
    citizen = await ctx.uow.citizens.register(who.id, who.username, who.first_name,
                                              ctx.language, ctx.now)
    await ctx.uow.citizens.give_consent(citizen.id, PRIVACY_PURPOSE,
                                        ctx.settings.privacy_version, ctx.now)
    ctx.citizen = replace(citizen, consented=True)
    payload = ctx.data.get("payload")
    if payload:
        opened = await open_deep_link(payload, ctx)
        if opened:
            return opened
    return Go("menu.idle", notice=ctx._(N_("Thank you! You can start now.")))


@onboarding.state("declined")
class Declined(State):
    help = N_("If you change your mind, tap “I changed my mind”.")

    async def show(self, ctx: Ctx) -> Screen:
        text = ctx._(N_("Understood: we have not stored anything about you.\n\nWithout your "
                        "consent I can't take your opinions. If you change your mind, tap the "
                        "button or send /start."))
        return Screen(text, ((ctx.button(ctx._(N_("I changed my mind")), "again"),),))

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        return Go("privacy") if data.action == "again" else None

    async def on_text(self, text: str, ctx: Ctx) -> Go:
        return stay()

    async def on_media(self, media, ctx: Ctx) -> Go:  # type: ignore[no-untyped-def]
        return stay()
