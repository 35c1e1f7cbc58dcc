"""The state machines. Importing this package registers every flow."""

from conversations.flows import menu, onboarding, opinion, preferences, rights

__all__ = ["menu", "onboarding", "opinion", "preferences", "rights"]
