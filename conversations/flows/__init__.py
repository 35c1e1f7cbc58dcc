"""The state machines. Importing this package registers every flow."""

from conversations.flows import (
    menu,
    moderation,
    onboarding,
    opinion,
    preferences,
    rights,
    staff,
    tickets,
)

__all__ = ["menu", "moderation", "onboarding", "opinion", "preferences", "rights", "staff",
           "tickets"]
