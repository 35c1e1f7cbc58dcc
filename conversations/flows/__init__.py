"""The state machines. Importing this package registers every flow."""

from conversations.flows import (
    menu,
    onboarding,
    opinion,
    participation,
    preferences,
    proposal_news,
    proposal_submission,
    proposals,
    rights,
)

__all__ = ["menu", "onboarding", "opinion", "participation", "preferences", "proposal_news",
           "proposal_submission", "proposals", "rights"]
