"""The state machines. Importing this package registers every flow."""

from conversations.flows import (
    menu,
    onboarding,
    opinion,
    participation,
    preferences,
    proposals,
    rights,
)

__all__ = ["menu", "onboarding", "opinion", "participation", "preferences", "proposals",
           "rights"]
