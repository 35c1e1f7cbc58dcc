"""What the process needs from a messenger framework (aiogram now, PTB next).

The polling loop, the webhook server and the update pipeline are written
once against this protocol; each framework adapter implements it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from conversations.vocabulary import Event, Reply


class Transport(Protocol):
    name: str

    def update_id(self, update: Any) -> int: ...
    def parse_update(self, raw: dict[str, Any]) -> Any: ...
    def to_event(self, update: Any) -> Event | None: ...
    async def get_updates(self, offset: int | None, long_poll_s: int) -> Sequence[Any]: ...
    async def deliver(self, event: Event, replies: Sequence[Reply]) -> None: ...
    async def set_webhook(self, url: str, secret: str, max_connections: int) -> None: ...
    async def delete_webhook(self) -> None: ...
    async def publish_profile(self, languages: Sequence[str], default_language: str) -> None: ...
    async def close(self) -> None: ...
    def is_fatal(self, error: BaseException) -> bool:
        """True for answers retrying cannot mend (Telegram refusing the token)."""
        ...


BlockedCallback = Callable[[int], Awaitable[None]]

ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "my_chat_member")
