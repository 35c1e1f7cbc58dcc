"""The settings flows read (a plain value, filled from the bot's configuration)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FlowSettings:
    controller_name: str = "Administración pública"
    controller_contact: str = "privacidad@example.org"
    privacy_version: str = "1"
    retention_days: int = 730
    default_language: str = "es"
    timezone: str = "Europe/Madrid"
    comment_max_chars: int = 2000
    services_per_page: int = 8
    proposals_per_day: int = 3
    moderators_chat_id: int | None = None
    moderators_topics: bool = False  # the group has topics: one per ticket
    inbox_page_size: int = 10
    admin_ids: frozenset[int] = frozenset()
    # The bot's @username, learned from getMe at start-up: the check-in QR
    # code is a t.me link to it.
    bot_username: str = ""
    workshop_reminder_hours: tuple[int, ...] = (48, 2)
    workshop_no_offers_hours: int = 2
    workshop_offer_max_hours: int = 24
    workshop_answer_max_chars: int = 300
    # A bug in a handler is announced in the moderators' group at most this often.
    error_alert_minutes: int = 15
