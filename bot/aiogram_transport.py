"""The aiogram 3 adapter: Telegram updates to Events, replies to Bot API calls."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods.base import Response
from aiogram.types import (
    BotCommand,
    BotCommandScopeDefault,
    BufferedInputFile,
    CallbackQuery,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageId,
    Update,
)

from bot.html_text import CAPTION_LIMIT, split_html, truncate_html, visible_length
from bot.profile import commands_for, description_for
from bot.transport import ALLOWED_UPDATES, BlockedCallback, Delivery
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

# pydantic keeps parametrised generics in a weak cache: aiogram looks up
# Response[<result type>] on every answer, and once the garbage collector has
# dropped the class it is built again (milliseconds of schema work each time;
# about 12 % of the outbox sender's CPU at full speed). Held here, built once.
_RESPONSE_TYPES = (Response[Message], Response[MessageId], Response[bool],
                   Response[list[Update]])

MEDIA_FIELDS = ("photo", "voice", "audio", "video", "video_note", "document", "sticker",
                "animation", "location", "contact", "poll")
MAX_ATTEMPTS = 3
MAX_RETRY_AFTER_S = 60


def _markup(buttons: Keyboard) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=b.label, callback_data=b.data) for b in row]
        for row in buttons])


def _stored_markup(rows: list | None) -> InlineKeyboardMarkup | None:
    """Buttons as the outbox keeps them: rows of [label, data]."""
    if not rows:
        return None
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=label, callback_data=data) for label, data in row]
        for row in rows])


def _chat(chat: Any, thread_id: int | None = None) -> Chat:
    return Chat(chat.id, chat.type, thread_id, getattr(chat, "title", None))


def _who(user: Any) -> Who:
    return Who(user.id, user.username, user.language_code, user.first_name)


def message_event(update_id: int, message: Message, *, edited: bool = False) -> Event | None:
    if message.from_user is None:
        return None  # channel posts and anonymous admins: nobody to answer
    common: dict[str, Any] = {
        "update_id": update_id,
        "chat": _chat(message.chat, message.message_thread_id if message.is_topic_message
                      else None),
        "user": _who(message.from_user), "message_id": message.message_id,
        "reply_to_message_id": message.reply_to_message.message_id
        if message.reply_to_message else None,
    }
    if edited:
        return Event(kind="edited", text=message.text or message.caption, **common)
    text = message.text
    if text is not None:
        entity = (message.entities or [None])[0]
        if entity is not None and entity.type == "bot_command" and entity.offset == 0:
            command = text[1:entity.length].split("@", 1)[0].lower()
            return Event(kind="command", text=text, command=command,
                         args=text[entity.length:].strip(), **common)
        return Event(kind="text", text=text, **common)
    for field in MEDIA_FIELDS:
        value = getattr(message, field, None)
        if value:
            if field == "photo":
                file_id = value[-1].file_id  # the largest size
            else:
                file_id = getattr(value, "file_id", None)
            return Event(kind="media", media=Media(field, file_id), text=message.caption,
                         **common)
    return Event(kind="other", **common)


def callback_event(update_id: int, query: CallbackQuery) -> Event:
    message = query.message
    chat = _chat(message.chat) if message is not None else Chat(query.from_user.id)
    return Event(update_id=update_id, chat=chat, user=_who(query.from_user), kind="button",
                 data=query.data, callback_id=query.id,
                 message_id=message.message_id if message is not None else None)


def member_event(update_id: int, change: ChatMemberUpdated) -> Event:
    return Event(update_id=update_id, chat=_chat(change.chat), user=_who(change.from_user),
                 kind="member", member_status=change.new_chat_member.status)


class AiogramTransport:
    name = "aiogram"

    def __init__(self, token: str, api_base: str, on_blocked: BlockedCallback | None = None,
                 request_timeout: float = 30.0, limiter: SendLimiter | None = None) -> None:
        session = AiohttpSession(api=TelegramAPIServer.from_base(api_base),
                                 timeout=request_timeout)
        self.bot = Bot(token=token, session=session)
        self.on_blocked = on_blocked
        self.limiter = limiter

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

    # -- updates ------------------------------------------------------------

    def update_id(self, update: Update) -> int:
        return update.update_id

    def parse_update(self, raw: dict[str, Any]) -> Update:
        return Update.model_validate(raw, context={"bot": self.bot})

    def to_event(self, update: Update) -> Event | None:
        if update.message is not None:
            return message_event(update.update_id, update.message)
        if update.edited_message is not None:
            return message_event(update.update_id, update.edited_message, edited=True)
        if update.callback_query is not None:
            return callback_event(update.update_id, update.callback_query)
        if update.my_chat_member is not None:
            return member_event(update.update_id, update.my_chat_member)
        return None

    async def get_updates(self, offset: int | None, long_poll_s: int) -> Sequence[Update]:
        return await self.bot.get_updates(offset=offset, timeout=long_poll_s,
                                          allowed_updates=list(ALLOWED_UPDATES))

    # -- replies --------------------------------------------------------------

    async def deliver(self, event: Event, replies: Sequence[Reply]) -> None:
        """Send the replies in order. A failure is logged, never raised: what the
        person submitted is already committed; a reply that cannot go out is lost
        only after the retries below."""
        for reply in replies:
            try:
                await self._with_retries(event, reply)
            except TelegramForbiddenError:
                log.info("chat unreachable, marking blocked", extra={"chat_id": event.chat.id})
                if self.on_blocked and event.is_private:
                    await self.on_blocked(event.user.id)
                return
            except (TelegramBadRequest, TelegramNetworkError, TelegramServerError,
                    TelegramRetryAfter) as error:
                log.warning("reply not delivered: %s", error.message,
                            extra={"update_id": event.update_id, "reply": type(reply).__name__})

    async def _with_retries(self, event: Event, reply: Reply) -> None:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                await self._send(event, reply)
                return
            except TelegramRetryAfter as error:
                if attempt == MAX_ATTEMPTS or error.retry_after > MAX_RETRY_AFTER_S:
                    raise
                await asyncio.sleep(error.retry_after)
            except (TelegramNetworkError, TelegramServerError):
                if attempt == MAX_ATTEMPTS:
                    raise
                await asyncio.sleep(0.5 * attempt)

    async def _send(self, event: Event, reply: Reply) -> None:
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
                await self.bot.send_document(
                    chat_id, BufferedInputFile(content, filename=name),
                    caption=truncate_html(caption, CAPTION_LIMIT) if caption else None,
                    parse_mode="HTML", message_thread_id=thread)
            case Photo(content=content, caption=caption):
                await self._budget(chat_id)
                photo = BufferedInputFile(content, filename="photo.png") \
                    if isinstance(content, bytes) else content
                await self.bot.send_photo(
                    chat_id, photo,
                    caption=truncate_html(caption, CAPTION_LIMIT) if caption else None,
                    parse_mode="HTML", message_thread_id=thread)
            case Leave():
                await self.bot.leave_chat(chat_id)

    async def _answer(self, callback_id: str, text: str | None, alert: bool) -> None:
        try:
            await self.bot.answer_callback_query(
                callback_id, text=text[:200] if text else None, show_alert=alert)
        except TelegramBadRequest as error:
            # A press answered too late (the bot was down) cannot be answered
            # any more; the replies after it still go out.
            if "query is too old" not in error.message:
                raise

    async def _send_text(self, chat_id: int, thread: int | None, text: str,
                         buttons: Keyboard) -> None:
        parts = split_html(text)
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            await self._budget(chat_id)
            await self.bot.send_message(chat_id, part, parse_mode="HTML",
                                        reply_markup=_markup(buttons) if last else None,
                                        message_thread_id=thread)

    async def _edit(self, event: Event, text: str, buttons: Keyboard) -> None:
        if event.message_id is None or visible_length(text) > 4096:
            await self._send_text(event.chat.id, event.chat.thread_id, text, buttons)
            return
        await self._budget(event.chat.id)
        try:
            await self.bot.edit_message_text(text=text, chat_id=event.chat.id,
                                             message_id=event.message_id, parse_mode="HTML",
                                             reply_markup=_markup(buttons))
        except TelegramBadRequest as error:
            if "message is not modified" in error.message:
                return
            if "message to edit not found" in error.message or \
                    "message can't be edited" in error.message:
                await self._send_text(event.chat.id, event.chat.thread_id, text, buttons)
                return
            raise

    # -- queued messages (the outbox sender; the budget was taken by it) -------

    async def send_queued(self, row: OutboxRow) -> Delivery:
        try:
            if row.kind == "copy":
                assert row.copy_from_chat_id is not None and row.copy_message_id is not None
                sent = await self.bot.copy_message(row.chat_id, row.copy_from_chat_id,
                                                   row.copy_message_id,
                                                   message_thread_id=row.thread_id)
                return Delivery("sent", message_id=sent.message_id)
            parts = split_html(row.body or "")
            message = None
            for index, part in enumerate(parts):
                last = index == len(parts) - 1
                if index:
                    await self._next_part_budget(row)
                message = await self.bot.send_message(
                    row.chat_id, part, parse_mode="HTML", message_thread_id=row.thread_id,
                    reply_markup=_stored_markup(row.buttons) if last else None)
            return Delivery("sent", message_id=message.message_id if message else None)
        except TelegramRetryAfter as error:
            return Delivery("retry", retry_after=float(error.retry_after), error=error.message)
        except TelegramMigrateToChat as error:
            return Delivery("moved", new_chat_id=error.migrate_to_chat_id, error=error.message)
        except TelegramForbiddenError as error:
            return Delivery("blocked", error=error.message)
        except TelegramBadRequest as error:
            return Delivery("failed", error=error.message)
        except (TelegramNetworkError, TelegramServerError, TimeoutError, OSError) as error:
            return Delivery("retry", error=f"{type(error).__name__}: {error}")
        except TelegramUnauthorizedError:
            raise  # the token: nothing to do with this row (the row is taken back later)
        except TelegramAPIError as error:  # 404, 409, 413...: retrying will not mend it
            return Delivery("failed", error=f"{type(error).__name__}: {error.message}")

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

    # -- webhook and profile --------------------------------------------------

    async def set_webhook(self, url: str, secret: str, max_connections: int) -> None:
        await self.bot.set_webhook(url, secret_token=secret, max_connections=max_connections,
                                   allowed_updates=list(ALLOWED_UPDATES),
                                   drop_pending_updates=False)

    async def delete_webhook(self) -> None:
        await self.bot.delete_webhook(drop_pending_updates=False)

    async def publish_profile(self, languages: Sequence[str], default_language: str) -> None:
        """Citizen commands and descriptions in every language we have a catalog for
        (the default one also without a language code, for everyone else)."""
        for language in [None, *languages]:
            shown = language or default_language
            commands = [BotCommand(command=n, description=d) for n, d in commands_for(shown)]
            await self.bot.set_my_commands(commands, scope=BotCommandScopeDefault(),
                                           language_code=language)
            description, short = description_for(shown)
            await self.bot.set_my_description(description, language_code=language)
            await self.bot.set_my_short_description(short, language_code=language)

    def is_fatal(self, error: BaseException) -> bool:
        return isinstance(error, TelegramUnauthorizedError)

    async def close(self) -> None:
        await self.bot.session.close()
