"""What both framework adapters do the same way, written once.

The Bot API is the same whichever library speaks it: the mapping of an
update to an :class:`Event`, the order and retries of replies, splitting
long text, an edit falling back to a new message, what each Telegram answer
means for a queued message. :class:`BotApiTransport` holds all of that; an
adapter (aiogram, python-telegram-bot) supplies only its API calls and
:meth:`BotApiTransport.failure`, which says what one of its exceptions is.
"""

from __future__ import annotations

import asyncio
import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bot.html_text import (
    CAPTION_LIMIT,
    entities_html,
    split_html,
    truncate_html,
    visible_length,
)
from bot.profile import commands_for, description_for
from bot.transport import BlockedCallback, Delivery
from conversations.vocabulary import (
    Answer,
    Chat,
    Document,
    Edit,
    Event,
    Keyboard,
    Leave,
    Media,
    Photo,
    Reply,
    Send,
    Who,
)
from storage.outbox import OutboxRow
from storage.send_limits import Priority, SendLimiter

log = logging.getLogger(__name__)

MEDIA_FIELDS = ("photo", "voice", "audio", "video", "video_note", "document", "sticker",
                "animation", "location", "contact", "poll")
MAX_ATTEMPTS = 3
TOPIC_NAME_LIMIT = 128
ANSWER_TEXT_LIMIT = 200  # answerCallbackQuery text, 0-200 characters
MAX_RETRY_AFTER_S = 60

Rows = list[list[tuple[str, str]]]  # inline buttons as (label, callback data)


# -- updates to events (both libraries name the fields as the Bot API does) ----

def _chat(chat: Any, thread_id: int | None = None) -> Chat:
    # str(): PTB's enums (ChatType) are str subclasses; the engine gets plain strings.
    return Chat(chat.id, str(chat.type), thread_id, getattr(chat, "title", None))


def _who(user: Any) -> Who:
    return Who(user.id, user.username, user.language_code, user.first_name)


def _thread(message: Any) -> int | None:
    """The forum topic a message is in (None outside topics, and in General)."""
    return message.message_thread_id if getattr(message, "is_topic_message", None) else None


def message_event(update_id: int, message: Any, *, edited: bool = False) -> Event | None:
    if message.from_user is None:
        return None  # channel posts and anonymous admins: nobody to answer
    common: dict[str, Any] = {
        "update_id": update_id,
        "chat": _chat(message.chat, _thread(message)),
        "user": _who(message.from_user), "message_id": message.message_id,
        "reply_to_message_id": message.reply_to_message.message_id
        if message.reply_to_message else None,
    }
    if edited:
        return Event(kind="edited", text=message.text or message.caption, **common)
    if message.migrate_to_chat_id or message.migrate_from_chat_id:
        return Event(kind="migrated", migrate_to_chat_id=message.migrate_to_chat_id,
                     migrate_from_chat_id=message.migrate_from_chat_id, **common)
    text = message.text
    if text is not None:
        entity = (message.entities or [None])[0]
        if entity is not None and entity.type == "bot_command" and entity.offset == 0:
            command = text[1:entity.length].split("@", 1)[0].lower()
            return Event(kind="command", text=text, command=command,
                         args=text[entity.length:].strip(), **common)
        return Event(kind="text", text=text, html=entities_html(text, message.entities),
                     **common)
    for field in MEDIA_FIELDS:
        value = getattr(message, field, None)
        if value:  # PTB: an empty tuple for no photo
            file_id = value[-1].file_id if field == "photo" else getattr(value, "file_id", None)
            caption = message.caption
            return Event(kind="media", media=Media(field, file_id), text=caption,
                         html=entities_html(caption, message.caption_entities)
                         if caption is not None else None, **common)
    return Event(kind="other", **common)


def callback_event(update_id: int, query: Any) -> Event:
    message = query.message  # also an inaccessible message: it has chat and message_id
    chat = _chat(message.chat, _thread(message)) if message is not None \
        else Chat(query.from_user.id)
    return Event(update_id=update_id, chat=chat, user=_who(query.from_user), kind="button",
                 data=query.data, callback_id=query.id,
                 message_id=message.message_id if message is not None else None)


def member_event(update_id: int, change: Any) -> Event:
    return Event(update_id=update_id, chat=_chat(change.chat), user=_who(change.from_user),
                 kind="member", member_status=str(change.new_chat_member.status))


def update_event(update: Any) -> Event | None:
    if update.message is not None:
        return message_event(update.update_id, update.message)
    if update.edited_message is not None:
        return message_event(update.update_id, update.edited_message, edited=True)
    if update.callback_query is not None:
        return callback_event(update.update_id, update.callback_query)
    if update.my_chat_member is not None:
        return member_event(update.update_id, update.my_chat_member)
    return None


# -- what a library's exception means ------------------------------------------

@dataclass(frozen=True, slots=True)
class Failure:
    """A Bot API error in the terms the bot acts on.

    retry_after: a 429 (``retry_after`` seconds); moved: the group has a new id;
    blocked: 403, final for that chat; refused: 400 and other answers retrying
    cannot mend; transient: network, timeouts, 5xx; fatal: the token is refused.
    """

    kind: Literal["retry_after", "moved", "blocked", "refused", "transient", "fatal"]
    message: str
    retry_after: float | None = None
    new_chat_id: int | None = None


class BotApiTransport(ABC):
    def __init__(self, on_blocked: BlockedCallback | None, limiter: SendLimiter | None) -> None:
        self.on_blocked = on_blocked
        self.limiter = limiter

    # -- what an adapter supplies ---------------------------------------------

    @abstractmethod
    def failure(self, error: BaseException) -> Failure | None:
        """What this library's exception means; None for anything else."""

    @abstractmethod
    async def _send_message(self, chat_id: int, text: str, thread: int | None,
                            buttons: Rows | None) -> int:
        """Send HTML text; the new message's id."""

    @abstractmethod
    async def _edit_message(self, chat_id: int, message_id: int, text: str,
                            buttons: Rows | None) -> None: ...

    @abstractmethod
    async def _answer_callback(self, callback_id: str, text: str | None,
                               alert: bool) -> None: ...

    @abstractmethod
    async def _send_document(self, chat_id: int, name: str, content: bytes,
                             caption: str | None, thread: int | None) -> None: ...

    @abstractmethod
    async def _send_photo(self, chat_id: int, photo: bytes | str, caption: str | None,
                          thread: int | None) -> None: ...

    @abstractmethod
    async def _leave_chat(self, chat_id: int) -> None: ...

    @abstractmethod
    async def _copy_message(self, chat_id: int, from_chat_id: int, message_id: int,
                            thread: int | None) -> int: ...

    @abstractmethod
    async def _set_profile(self, language: str | None, commands: list[tuple[str, str]],
                           description: str, short_description: str) -> None: ...

    @abstractmethod
    async def _create_topic(self, chat_id: int, name: str) -> int:
        """Create a forum topic; its message_thread_id."""

    @abstractmethod
    async def _delete_message(self, chat_id: int, message_id: int) -> None: ...

    @abstractmethod
    async def _delete_topic(self, chat_id: int, thread_id: int) -> None: ...

    @abstractmethod
    async def _set_chat_commands(self, chat_id: int, language: str | None,
                                 commands: list[tuple[str, str]]) -> None:
        """setMyCommands for one chat's scope (BotCommandScopeChat)."""

    @abstractmethod
    async def _delete_chat_commands(self, chat_id: int, language: str | None) -> None: ...

    @abstractmethod
    async def _username(self) -> str | None:
        """The bot's @username (getMe)."""

    async def bot_username(self) -> str | None:
        """The bot's @username, for t.me links (the check-in QR code)."""
        await self._ready()
        return await self._username()

    async def _ready(self) -> None:  # noqa: B027 (a hook: nothing to do by default)
        """Anything to do before the first call (PTB initialises its Bot)."""

    # -- the shared behaviour ----------------------------------------------------

    def update_id(self, update: Any) -> int:
        return update.update_id

    def to_event(self, update: Any) -> Event | None:
        return update_event(update)

    def is_fatal(self, error: BaseException) -> bool:
        found = self.failure(error)
        return found is not None and found.kind == "fatal"

    async def _budget(self, chat_id: int) -> None:
        """Interactive replies take from the shared sending budget first. They are
        never refused for the chat's own limit, only while Telegram asked this
        chat to wait (a 429): then they wait too, up to MAX_RETRY_AFTER_S."""
        if self.limiter is None:
            return
        grant = await self.limiter.acquire(chat_id, Priority.INTERACTIVE)
        if not grant.ok:
            await asyncio.sleep(min(grant.chat_wait, MAX_RETRY_AFTER_S))
            await self.limiter.acquire(chat_id, Priority.INTERACTIVE, timeout=0)

    async def deliver(self, event: Event, replies: Sequence[Reply]) -> None:
        """Send the replies in order. A failure is logged, never raised (but a
        refused token): what the person submitted is already committed; a reply
        that cannot go out is lost only after the retries below."""
        for reply in replies:
            try:
                await self._with_retries(event, reply)
            except Exception as error:
                found = self.failure(error)
                if found is None or found.kind == "fatal":
                    raise
                if found.kind == "blocked":
                    log.info("chat unreachable, marking blocked",
                             extra={"chat_id": event.chat.id})
                    if self.on_blocked and event.is_private:
                        await self.on_blocked(event.user.id)
                    return
                log.warning("reply not delivered: %s", found.message,
                            extra={"update_id": event.update_id,
                                   "reply": type(reply).__name__})

    async def _with_retries(self, event: Event, reply: Reply) -> None:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                await self._send(event, reply)
                return
            except Exception as error:
                found = self.failure(error)
                last = attempt == MAX_ATTEMPTS
                if found is not None and found.kind == "retry_after" and not last \
                        and (found.retry_after or 0) <= MAX_RETRY_AFTER_S:
                    await asyncio.sleep(found.retry_after or 0)
                elif found is not None and found.kind == "transient" and not last:
                    await asyncio.sleep(0.5 * attempt)
                else:
                    raise

    async def _send(self, event: Event, reply: Reply) -> None:
        await self._ready()
        chat_id, thread = event.chat.id, event.chat.thread_id
        match reply:
            case Answer(text=text, alert=alert):
                if event.callback_id:
                    await self._answer(event.callback_id, text, alert)
            case Send(text=text, buttons=buttons):
                await self._send_text(chat_id, thread, text, buttons)
            case Edit(text=text, buttons=buttons):
                await self._edit(event, text, buttons)
            case Document(name=name, content=content, caption=caption):
                await self._budget(chat_id)
                await self._send_document(chat_id, name, content, _caption(caption), thread)
            case Photo(content=content, caption=caption):
                await self._budget(chat_id)
                await self._send_photo(chat_id, content, _caption(caption), thread)
            case Leave():
                await self._leave_chat(chat_id)

    async def _answer(self, callback_id: str, text: str | None, alert: bool) -> None:
        try:
            await self._answer_callback(callback_id, text[:ANSWER_TEXT_LIMIT] if text else None,
                                        alert)
        except Exception as error:
            # A press answered too late (the bot was down) cannot be answered
            # any more; the replies after it still go out.
            found = self.failure(error)
            if found is None or "query is too old" not in found.message.lower():
                raise

    async def _send_text(self, chat_id: int, thread: int | None, text: str,
                         buttons: Keyboard) -> None:
        parts = split_html(text)
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            await self._budget(chat_id)
            await self._send_message(chat_id, part, thread,
                                     keyboard_rows(buttons) if last else None)

    async def _edit(self, event: Event, text: str, buttons: Keyboard) -> None:
        if event.message_id is None or visible_length(text) > 4096:
            await self._send_text(event.chat.id, event.chat.thread_id, text, buttons)
            return
        await self._budget(event.chat.id)
        try:
            await self._edit_message(event.chat.id, event.message_id, text,
                                     keyboard_rows(buttons))
        except Exception as error:
            found = self.failure(error)
            message = found.message.lower() if found else ""
            if "message is not modified" in message:
                return
            if "message to edit not found" in message or "message can't be edited" in message:
                await self._send_text(event.chat.id, event.chat.thread_id, text, buttons)
                return
            raise

    # -- queued messages (the outbox sender; the budget was taken by it) -------

    async def send_queued(self, row: OutboxRow) -> Delivery:
        try:
            await self._ready()
            if row.kind == "copy":
                assert row.copy_from_chat_id is not None and row.copy_message_id is not None
                return Delivery("sent", message_id=await self._copy_message(
                    row.chat_id, row.copy_from_chat_id, row.copy_message_id, row.thread_id))
            if row.kind == "topic":
                name = (row.body or "-")[:TOPIC_NAME_LIMIT]
                return Delivery("sent", message_id=await self._create_topic(row.chat_id, name))
            if row.kind == "delete":
                # A message, or a whole forum topic (allowed at any age, unlike
                # a message in a group, which only while younger than 48 h).
                if row.target_message_id is not None:
                    await self._delete_message(row.chat_id, row.target_message_id)
                else:
                    assert row.thread_id is not None
                    await self._delete_topic(row.chat_id, row.thread_id)
                return Delivery("sent")
            if row.kind == "commands":
                await self._set_commands(row)
                return Delivery("sent")
            if row.kind == "edit":
                await self._edit_posted(row)
                return Delivery("sent")
            parts = split_html(row.body or "")
            message_id = None
            for index, part in enumerate(parts):
                last = index == len(parts) - 1
                if index:
                    await self._next_part_budget(row)
                stored = [[(label, data) for label, data in r] for r in row.buttons or []]
                message_id = await self._send_message(row.chat_id, part, row.thread_id,
                                                      stored if last and stored else None)
            return Delivery("sent", message_id=message_id)
        except Exception as error:
            found = self.failure(error)
            if found is None:
                if isinstance(error, TimeoutError | OSError):
                    return Delivery("retry", error=f"{type(error).__name__}: {error}")
                raise
            match found.kind:
                case "retry_after":
                    return Delivery("retry", retry_after=found.retry_after, error=found.message)
                case "moved":
                    return Delivery("moved", new_chat_id=found.new_chat_id, error=found.message)
                case "blocked":
                    return Delivery("blocked", error=found.message)
                case "transient":
                    return Delivery("retry", error=found.message)
                case "fatal":
                    raise  # the token: nothing to do with this row (taken back later)
            return Delivery("failed", error=found.message)

    async def _edit_posted(self, row: OutboxRow) -> None:
        """Change an earlier post; one already showing this text is done too."""
        assert row.target_message_id is not None
        stored = [[(label, data) for label, data in r] for r in row.buttons or []]
        try:
            await self._edit_message(row.chat_id, row.target_message_id, row.body or "",
                                     stored)
        except Exception as error:
            found = self.failure(error)
            if found is None or "message is not modified" not in found.message.lower():
                raise

    async def _set_commands(self, row: OutboxRow) -> None:
        """Every language's menu for the chat (all of them again on a retry:
        setting a menu twice is harmless)."""
        for language, commands in json.loads(row.body or "{}").items():
            code = language or None
            if commands:
                await self._set_chat_commands(row.chat_id, code,
                                              [(name, text) for name, text in commands])
            else:
                await self._delete_chat_commands(row.chat_id, code)

    async def _next_part_budget(self, row: OutboxRow) -> None:
        """The sender took one send from the budget for the row; a long body
        split in parts takes one more for each further part, waiting for its
        chat's limit (else the second part would get a 429 and the retry
        would send the first part again)."""
        if self.limiter is None:
            return
        while True:
            grant = await self.limiter.acquire(row.chat_id, Priority(row.priority))
            if grant.ok:
                return
            await asyncio.sleep(grant.chat_wait)

    async def publish_profile(self, languages: Sequence[str], default_language: str) -> None:
        """Citizen commands and descriptions in every language we have a catalog for
        (the default one also without a language code, for everyone else)."""
        await self._ready()
        for language in [None, *languages]:
            shown = language or default_language
            description, short = description_for(shown)
            await self._set_profile(language, commands_for(shown), description, short)


def keyboard_rows(buttons: Keyboard) -> Rows | None:
    return [[(b.label, b.data) for b in row] for row in buttons] or None


def _caption(caption: str | None) -> str | None:
    return truncate_html(caption, CAPTION_LIMIT) if caption else None
