"""The state machines. Importing this package registers every flow."""

from conversations.flows import (
    menu,
    moderation,
    onboarding,
    opinion,
    participation,
    preferences,
    proposal_news,
    proposal_submission,
    proposals,
    rights,
    staff,
    tickets,
)

__all__ = ["menu", "moderation", "onboarding", "opinion", "participation", "preferences",
           "proposal_news", "proposal_submission", "proposals", "rights", "staff", "tickets"]
