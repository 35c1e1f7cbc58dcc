"""What the process needs from a messenger framework (aiogram or PTB).

The polling loop, the webhook server and the update pipeline are written
once against this protocol; each framework adapter implements it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from conversations.vocabulary import Event, Reply
from storage.outbox import OutboxRow


@dataclass(frozen=True, slots=True)
class Delivery:
    """What Telegram answered to a queued message, in the terms the sender acts on.

    sent: done (``message_id``); retry: try later (``retry_after`` when Telegram
    said how long, else a network error or 5xx); blocked: the person or group
    is unreachable for good (403); moved: the group has a new id
    (``new_chat_id``); failed: refused for good (other 400s, ``error``).
    """

    outcome: Literal["sent", "retry", "blocked", "moved", "failed"]
    message_id: int | None = None
    retry_after: float | None = None
    new_chat_id: int | None = None
    error: str | None = None


class Transport(Protocol):
    name: str

    def update_id(self, update: Any) -> int: ...
    def parse_update(self, raw: dict[str, Any]) -> Any: ...
    def to_event(self, update: Any) -> Event | None: ...
    async def get_updates(self, offset: int | None, long_poll_s: int) -> Sequence[Any]: ...
    async def deliver(self, event: Event, replies: Sequence[Reply]) -> None: ...
    async def send_queued(self, row: OutboxRow) -> Delivery: ...
    async def set_webhook(self, url: str, secret: str, max_connections: int) -> None: ...
    async def delete_webhook(self) -> None: ...
    async def publish_profile(self, languages: Sequence[str], default_language: str) -> None: ...
    async def bot_username(self) -> str | None: ...
    async def close(self) -> None: ...
    def is_fatal(self, error: BaseException) -> bool:
        """True for answers retrying cannot mend (Telegram refusing the token)."""
        ...


BlockedCallback = Callable[[int], Awaitable[None]]

ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "my_chat_member")
