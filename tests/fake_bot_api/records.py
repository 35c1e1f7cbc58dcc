"""Plain records of what the fake saw and did, for tests to inspect."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

Button = tuple[str, str | None]
"""(text, callback_data or url); None for other button kinds."""


# Why a chat refuses sends (403), by configured reason.
FORBIDDEN_REASONS: dict[str, str] = {
    "blocked": "Forbidden: bot was blocked by the user",
    "deactivated": "Forbidden: user is deactivated",
    "not_started": "Forbidden: bot can't initiate conversation with a user",
    "kicked": "Forbidden: bot was kicked from the group chat",
}


class TelegramError(Exception):
    """An error answer: raised inside handlers, rendered as Telegram renders it."""

    def __init__(
        self, error_code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def body(self) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.parameters:
            answer["parameters"] = self.parameters
        return answer


def bad_request(text: str, parameters: dict[str, Any] | None = None) -> TelegramError:
    return TelegramError(400, f"Bad Request: {text}", parameters)


@dataclass
class Call:
    """One request the bot made, after decoding (JSON fields parsed, ints coerced)."""

    method: str  # canonical spelling, e.g. "sendMessage"
    params: dict[str, Any]
    time: float  # time.monotonic() at arrival
    status: int = 0  # HTTP status answered (0 while in flight)
    response: dict[str, Any] | None = None
    in_webhook_answer: bool = False  # made by answering the webhook with it


@dataclass
class SentMessage:
    """A message the bot sent (or copied/forwarded) into a chat, as it is now."""

    chat_id: int
    message_id: int
    date: int
    kind: Literal["text", "document", "photo", "copy", "forward"]
    text: str | None = None  # as sent: HTML source when parse_mode is HTML
    plain_text: str | None = None  # what the user sees (after parsing)
    parse_mode: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    reply_markup: dict[str, Any] | None = None
    caption: str | None = None  # as sent
    plain_caption: str | None = None
    caption_entities: list[dict[str, Any]] = field(default_factory=list)
    document_name: str | None = None
    document_bytes: bytes | None = None
    photo_bytes: bytes | None = None
    file_id: str | None = None
    media: dict[str, Any] | None = None
    """Message keys of the content besides text/caption ("document", "voice", ...)."""
    reply_to_message_id: int | None = None
    message_thread_id: int | None = None
    copied_from: tuple[int, int] | None = None  # (from_chat_id, message_id)
    edited: bool = False
    edit_count: int = 0
    edit_date: int | None = None
    history: list[tuple[str | None, dict[str, Any] | None]] = field(default_factory=list)
    """Earlier (text, reply_markup) versions, oldest first."""
    deleted: bool = False
    sent_at: float = field(default_factory=time.monotonic)

    @property
    def buttons(self) -> list[list[Button]]:
        """Inline keyboard as rows of (text, callback_data or url)."""
        if not self.reply_markup or "inline_keyboard" not in self.reply_markup:
            return []
        return [
            [(b.get("text", ""), b.get("callback_data", b.get("url"))) for b in row]
            for row in self.reply_markup["inline_keyboard"]
        ]

    @property
    def button_texts(self) -> list[str]:
        return [text for row in self.buttons for text, _ in row]

    @property
    def callback_data(self) -> list[str]:
        return [
            b["callback_data"]
            for row in (self.reply_markup or {}).get("inline_keyboard", [])
            for b in row
            if "callback_data" in b
        ]


@dataclass
class UserMessage:
    """A message a simulated user sent; kept so copyMessage/forwardMessage find it."""

    chat_id: int
    message_id: int
    message: dict[str, Any]


@dataclass
class CallbackRecord:
    """A button press the bot must answer."""

    query_id: str
    user_id: int
    chat_id: int | None
    message_id: int | None
    data: str | None
    created_at: float
    answered: bool = False
    answer: dict[str, Any] | None = None


@dataclass
class Sent:
    """What happened to an update a simulated user produced.

    ``mode`` is "queue" when no webhook is set (the update waits for
    getUpdates; ``status`` is None; ``error`` says so if allowed_updates
    dropped it) and "webhook" when it was POSTed to the bot (``status`` is
    the HTTP status, or None with ``error`` set when the connection failed).
    """

    update: dict[str, Any]
    mode: Literal["queue", "webhook"]
    status: int | None = None
    error: str | None = None

    @property
    def update_id(self) -> int:
        return int(self.update["update_id"])

    @property
    def ok(self) -> bool:
        """Queued, or accepted by the webhook with a 2xx."""
        if self.mode == "queue":
            return True
        return self.status is not None and 200 <= self.status < 300

    @property
    def message(self) -> dict[str, Any] | None:
        return self.update.get("message") or self.update.get("edited_message")


@dataclass
class WebhookDelivery:
    update_id: int
    status: int | None
    error: str | None
    time: float


@dataclass
class ChatState:
    """Everything the fake knows about one chat."""

    id: int
    type: Literal["private", "group", "supergroup", "channel"]
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    is_forum: bool = False
    started: bool = False  # private chats: the user has written to the bot
    forbidden: str | None = None  # 403 description when sends are refused
    migrated_to: int | None = None
    topics: dict[int, str] = field(default_factory=dict)  # thread id -> name
    next_message_id: int = 1

    def as_chat(self) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": self.id, "type": self.type}
        for key in ("title", "username", "first_name", "last_name"):
            value = getattr(self, key)
            if value is not None:
                chat[key] = value
        if self.is_forum:
            chat["is_forum"] = True
        return chat
