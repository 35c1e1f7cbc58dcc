"""The state machines. Importing this package registers every flow."""

from conversations.flows import (
    broadcast,
    lab_reports,
    menu,
    moderation,
    onboarding,
    opinion,
    participation,
    preferences,
    proposal_moderation,
    proposal_news,
    proposal_submission,
    proposals,
    rights,
    staff,
    tickets,
    workshop_new,
    workshop_staff,
    workshops,
)

__all__ = ["broadcast", "lab_reports", "menu", "moderation", "onboarding", "opinion",
           "participation", "preferences", "proposal_moderation", "proposal_news",
           "proposal_submission", "proposals", "rights", "staff", "tickets", "workshop_new",
           "workshop_staff", "workshops"]
