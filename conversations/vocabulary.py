"""The plain values that cross the engine's boundary.

A transport turns whatever it received into an :class:`Event`; a flow
answers with a list of replies. Both are immutable values, so a flow test
is "build an Event, call the engine, compare the replies".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

EventKind = Literal["command", "text", "button", "media", "edited", "member", "migrated",
                    "other"]
ChatType = Literal["private", "group", "supergroup", "channel"]
MediaKind = Literal[
    "photo", "voice", "audio", "video", "video_note", "document", "sticker",
    "animation", "location", "contact", "poll", "other",
]


@dataclass(frozen=True, slots=True)
class Chat:
    id: int
    type: ChatType = "private"
    thread_id: int | None = None
    title: str | None = None


@dataclass(frozen=True, slots=True)
class Who:
    id: int
    username: str | None = None
    language: str | None = None
    first_name: str | None = None


@dataclass(frozen=True, slots=True)
class Media:
    kind: MediaKind
    file_id: str | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """One thing a person did, whatever the channel.

    ``update_id`` is the transport's delivery id (Telegram's update_id); the
    engine processes each one once. ``message_id`` is the message the event
    came in, or for a button press the message that carried the button.
    ``html`` is ``text`` (or a caption) with the sender's formatting as
    Telegram HTML, escaped: what to send back to show it as they wrote it.
    """

    update_id: int | None
    chat: Chat
    user: Who
    kind: EventKind
    text: str | None = None
    html: str | None = None
    command: str | None = None
    args: str = ""
    data: str | None = None
    media: Media | None = None
    message_id: int | None = None
    reply_to_message_id: int | None = None
    callback_id: str | None = None
    member_status: str | None = None
    # kind "migrated": a group became a supergroup. The old group's service
    # message names the new id, the new supergroup's first one the old id.
    migrate_to_chat_id: int | None = None
    migrate_from_chat_id: int | None = None
    channel: str = "telegram"

    @property
    def is_private(self) -> bool:
        return self.chat.type == "private"


@dataclass(frozen=True, slots=True)
class Button:
    """An inline button: a label and its callback data (``flow:action:ids``)."""

    label: str
    data: str


Keyboard = tuple[tuple[Button, ...], ...]


def keyboard(*rows: list[Button] | tuple[Button, ...]) -> Keyboard:
    return tuple(tuple(row) for row in rows if row)


@dataclass(frozen=True, slots=True)
class Send:
    """A new message to the person who acted. ``text`` is HTML."""

    text: str
    buttons: Keyboard = ()


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace the message whose button was pressed (falls back to a Send)."""

    text: str
    buttons: Keyboard = ()


@dataclass(frozen=True, slots=True)
class Answer:
    """The answer to a button press; the engine guarantees exactly one."""

    text: str | None = None
    alert: bool = False


@dataclass(frozen=True, slots=True)
class Document:
    name: str
    content: bytes
    caption: str | None = None


@dataclass(frozen=True, slots=True)
class Photo:
    content: bytes | str
    caption: str | None = None


@dataclass(frozen=True, slots=True)
class Leave:
    """Leave the chat the event came from (groups the bot must not be in)."""


PERSONAL = 1
BROADCAST = 2


@dataclass(frozen=True, slots=True)
class Notify:
    """A message to someone else (or later): an outbox row written in the
    event's transaction, sent by the outbox sender under the rate limits.

    ``text`` is HTML already rendered in the recipient's language. ``key``
    deduplicates: a second Notify with the same key is not queued. ``on_sent``
    names a hook (see :mod:`conversations.sent_hooks`) told the message id.
    """

    chat_id: int
    text: str
    buttons: Keyboard = ()
    thread_id: int | None = None
    key: str | None = None
    priority: int = PERSONAL
    not_before: datetime | None = None
    on_sent: str | None = None
    held: bool = False  # sent only once released (a ticket's forum topic exists)
    not_after: datetime | None = None  # pointless later: dropped, never sent late


@dataclass(frozen=True, slots=True)
class Copy:
    """Relay a message (voice note, photo...) to another chat, through the outbox."""

    from_chat_id: int
    message_id: int
    to_chat_id: int
    thread_id: int | None = None
    key: str | None = None
    priority: int = PERSONAL
    on_sent: str | None = None
    held: bool = False


@dataclass(frozen=True, slots=True)
class Topic:
    """Create a forum topic in a group, through the outbox; ``on_sent`` is told
    the new topic's id (its message_thread_id)."""

    chat_id: int
    name: str
    key: str | None = None
    on_sent: str | None = None


@dataclass(frozen=True, slots=True)
class DeleteMessage:
    """Delete a message the bot sent (in groups Telegram allows it for 48 hours)."""

    chat_id: int
    message_id: int
    key: str | None = None


@dataclass(frozen=True, slots=True)
class EditPost:
    """Change a message the bot posted earlier (not the one a button is under):
    a proposal's post in the moderators' group once it is decided by a
    command or a reply. Queued like a Notify; "not modified" counts as done."""

    chat_id: int
    message_id: int
    text: str
    buttons: Keyboard = ()
    key: str | None = None


@dataclass(frozen=True, slots=True)
class SetCommands:
    """Replace one person's command menu (their private chat's scope), per
    language: ``menus`` maps a language code ("" for the rest) to its commands;
    empty removes the chat's own menu, so the default (citizens') one shows.

    Queued like a Notify: a grant on the command line, with no Telegram
    connection, still reaches the person's menu, and a failure is retried."""

    chat_id: int
    menus: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    key: str | None = None


@dataclass(frozen=True, slots=True)
class Deferred:
    """Replies made after the event's transaction commits, in a worker thread.

    For slow, CPU-bound work that needs no database (drawing charts): done
    inside the transaction it would keep it open, and on SQLite every other
    update waits for the write lock meanwhile. The engine replaces it with
    what ``make`` returns, or with ``failed`` (translated) if ``make`` raises;
    transports never see it."""

    make: Callable[[], tuple[Reply, ...]]
    failed: str


Reply = (Send | Edit | Answer | Document | Photo | Leave | Notify | Copy | Topic | DeleteMessage
         | EditPost | SetCommands | Deferred)
Queued = Notify | Copy | Topic | DeleteMessage | EditPost | SetCommands
QUEUED = (Notify, Copy, Topic, DeleteMessage, EditPost, SetCommands)


@dataclass(slots=True)
class Outcome:
    """What the engine hands back to the transport for one event."""

    replies: list[Reply] = field(default_factory=list)
    duplicate: bool = False
    queued: int = 0  # outbox rows written: the sender may be woken
    failed: bool = False  # a handler raised: the person got "something went wrong"
