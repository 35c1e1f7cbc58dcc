"""What Telegram shows about the bot before a chat starts, per language."""

from __future__ import annotations

from conversations.commands import CITIZEN_COMMANDS
from conversations.i18n import N_, translator

DESCRIPTION = N_("Give your opinion on the public services of your administration: rate "
                 "them and tell us why. Your voice helps to improve them. Tap Start to begin.")
SHORT_DESCRIPTION = N_("Your opinion improves public services.")


def commands_for(language: str) -> list[tuple[str, str]]:
    t = translator(language)
    return [(name, t.gettext(description)) for name, description in CITIZEN_COMMANDS]


def description_for(language: str) -> tuple[str, str]:
    t = translator(language)
    return t.gettext(DESCRIPTION), t.gettext(SHORT_DESCRIPTION)
