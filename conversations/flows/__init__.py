"""The state machines. Importing this package registers every flow."""

from conversations.flows import broadcast, menu, onboarding, opinion, preferences, rights

__all__ = ["broadcast", "menu", "onboarding", "opinion", "preferences", "rights"]
