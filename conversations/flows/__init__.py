"""The state machines. Importing this package registers every flow."""

from conversations.flows import (
    menu,
    onboarding,
    opinion,
    preferences,
    rights,
    workshop_new,
    workshop_staff,
    workshops,
)

__all__ = ["menu", "onboarding", "opinion", "preferences", "rights", "workshop_new",
           "workshop_staff", "workshops"]
