"""The language picker: works from any message, at any step.

Choosing a language is an action on a preference, not a step of a journey,
so its buttons never expire; the current step is shown again in the new
language.
"""

from __future__ import annotations

from conversations.callback import CallbackData
from conversations.flow import Ctx, Flow, Go, global_button
from conversations.i18n import N_, available_languages, language_name, translator
from conversations.vocabulary import Edit, Send

preferences = Flow("lang", entry="")


def language_buttons(ctx: Ctx, make) -> tuple:  # type: ignore[no-untyped-def]
    """Language buttons two a row, each in its own language, the current one ticked."""
    labels = [(code, language_name(code) + (" ✓" if code == ctx.language else ""))
              for code in available_languages()]
    buttons = [make(label, code) for code, label in labels]
    return tuple(tuple(buttons[i:i + 2]) for i in range(0, len(buttons), 2))


def language_picker(ctx: Ctx) -> Send:
    rows = language_buttons(ctx, lambda label, code: global_button(label, "lang", "set", code))
    return Send("🌐 " + ctx._(N_("Choose your language:")), rows)


async def switch_language(code: str, ctx: Ctx) -> None:
    if ctx.consented:
        assert ctx.citizen is not None
        await ctx.uow.citizens.set_language(ctx.citizen.id, code)
    else:
        ctx.data["lang"] = code
    ctx.t = translator(code, ctx.settings.timezone)


@preferences.action("set")
async def set_language(data: CallbackData, ctx: Ctx) -> Go:
    code = data.id()
    if code not in available_languages():
        return Go(answer=ctx._(N_("This button has expired.")), show=False)
    await switch_language(code, ctx)
    done = "🌐 " + ctx._(N_("Language: {language}")).format(language=language_name(code))
    return Go(answer=done, replies=(Edit(done),))
