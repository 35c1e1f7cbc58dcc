"""The python-telegram-bot 22 adapter: the same behaviour as bot/aiogram_transport.py.

Only ``telegram.Bot`` is used (never PTB's Application): polling, the webhook
server and confirming updates stay in bot/polling.py and bot/webhook.py.

Where PTB differs from aiogram, and what is done about it:

* ``BadRequest`` is a subclass of ``NetworkError``: it is always caught
  first, or a refused request would be retried as if the network failed.
* PTB drops the "Bad Request: " prefix of Telegram's description and
  capitalises the rest ("Message is not modified"): descriptions are
  compared in lower case.
* Any status other than 400, 401, 403, 404, 409 becomes a ``NetworkError``
  (retried). aiogram retries 5xx and 413 too, but refuses other 4xx for good
  (405, 422...): :class:`_Request` does the same.
* 401 and 404 are both ``InvalidToken``; ``Bot.initialize`` would also put
  the token itself in that message, so its error is raised again without it.
* ``RetryAfter.retry_after`` is an int or a ``timedelta`` (v22.2+, by the
  PTB_TIMEDELTA setting), read without the deprecation warning.
* ``Update.de_json`` checks nothing: :meth:`PtbTransport.parse_update` refuses
  what is not an update (the webhook answers 400) instead of handling it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import warnings
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeDefault,
    CallbackQuery,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest, RequestData
from telegram.warnings import PTBDeprecationWarning

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

# PTB warns on every RetryAfter it builds (its own constructor reads the
# attribute) that it will become a timedelta: both forms are handled below.
warnings.filterwarnings("ignore", message=r".*attribute `retry_after`",
                        category=PTBDeprecationWarning)

MEDIA_FIELDS = ("photo", "voice", "audio", "video", "video_note", "document", "sticker",
                "animation", "location", "contact", "poll")
MAX_ATTEMPTS = 3
MAX_RETRY_AFTER_S = 60

# Statuses PTB maps itself, and 413 (aiogram: a network error, retried too);
# any other 4xx would become a (retried) NetworkError.
_RETRIED_OR_MAPPED = frozenset({400, 401, 403, 404, 409, 413, 429})


class Refused(TelegramError):
    """A 4xx answer PTB has no class for (405, 422...): retrying will not mend
    it (aiogram's plain TelegramAPIError)."""


class _Request(HTTPXRequest):
    async def do_request(self, url: str, method: str,  # type: ignore[override]
                         request_data: RequestData | None = None,
                         **timeouts: Any) -> tuple[int, bytes]:
        code, payload = await super().do_request(url, method, request_data, **timeouts)
        if 400 <= code < 500 and code not in _RETRIED_OR_MAPPED:
            try:
                answer = json.loads(payload)
                parameters = answer.get("parameters") or {}
            except (ValueError, AttributeError):
                answer, parameters = {}, {}
            if not parameters:  # retry_after / migrate_to_chat_id: PTB's own classes
                raise Refused(f"{answer.get('description') or 'HTTP error'} ({code})")
        return code, payload


def retry_after_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


def _markup(buttons: Keyboard) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup([
        [InlineKeyboardButton(text=b.label, callback_data=b.data) for b in row]
        for row in buttons])


def _stored_markup(rows: list | None) -> InlineKeyboardMarkup | None:
    """Buttons as the outbox keeps them: rows of [label, data]."""
    if not rows:
        return None
    return InlineKeyboardMarkup([
        [InlineKeyboardButton(text=label, callback_data=data) for label, data in row]
        for row in rows])


def _chat(chat: Any, thread_id: int | None = None) -> Chat:
    # PTB's enums (ChatType) are str subclasses; the engine gets plain strings.
    return Chat(chat.id, str(chat.type), thread_id, getattr(chat, "title", None))


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
        if value:  # PTB: an empty tuple for no photo
            if field == "photo":
                file_id = value[-1].file_id  # the largest size
            else:
                file_id = getattr(value, "file_id", None)
            return Event(kind="media", media=Media(field, file_id), text=message.caption,
                         **common)
    return Event(kind="other", **common)


def callback_event(update_id: int, query: CallbackQuery) -> Event:
    message = query.message  # also an InaccessibleMessage: it has chat and message_id
    chat = _chat(message.chat) if message is not None else Chat(query.from_user.id)
    return Event(update_id=update_id, chat=chat, user=_who(query.from_user), kind="button",
                 data=query.data, callback_id=query.id,
                 message_id=message.message_id if message is not None else None)


def member_event(update_id: int, change: ChatMemberUpdated) -> Event:
    return Event(update_id=update_id, chat=_chat(change.chat), user=_who(change.from_user),
                 kind="member", member_status=str(change.new_chat_member.status))


class PtbTransport:
    name = "ptb"

    def __init__(self, token: str, api_base: str, on_blocked: BlockedCallback | None = None,
                 request_timeout: float = 30.0, limiter: SendLimiter | None = None) -> None:
        self.request_timeout = request_timeout
        timeouts = {"read_timeout": request_timeout, "write_timeout": request_timeout,
                    "connect_timeout": request_timeout, "pool_timeout": request_timeout,
                    "media_write_timeout": request_timeout}
        self._request = _Request(**timeouts)
        # getUpdates has its own connection (PTB's default too): a long poll
        # never waits behind sends, nor sends behind it.
        self._updates_request = _Request(connection_pool_size=2, **timeouts)
        self.bot = Bot(token=token, base_url=api_base + "/bot",
                       base_file_url=api_base + "/file/bot",
                       request=self._request, get_updates_request=self._updates_request)
        self.on_blocked = on_blocked
        self.limiter = limiter
        self._initialized = False
        self._init_lock = asyncio.Lock()

    async def _ready(self) -> None:
        """Bot.initialize (getMe) once, on the first call that needs Telegram;
        a failure (Telegram unreachable) is raised and tried again next time."""
        if self._initialized:
            return
        async with self._init_lock:
            if self._initialized:
                return
            try:
                await self.bot.initialize()
            except InvalidToken as error:
                # PTB's message names the token; Telegram's own answer does not.
                cause = error.__cause__
                raise InvalidToken(cause.message if isinstance(cause, TelegramError)
                                   else "Unauthorized") from None
            self._initialized = True

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
        """PTB builds objects without checking them: what is not an update is
        refused here (ValueError / TypeError, as aiogram's validation raises)."""
        if not isinstance(raw, dict):
            raise TypeError(f"an update is a JSON object, not {type(raw).__name__}")
        update_id = raw.get("update_id")
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            raise ValueError("update_id must be an integer")
        try:
            return Update.de_json(raw, self.bot)
        except (KeyError, AttributeError, IndexError) as error:
            raise ValueError(f"malformed update: {type(error).__name__}: {error}") from error

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
        await self._ready()
        # PTB adds the long poll to the read timeout given: request_timeout + long_poll_s.
        return await self.bot.get_updates(offset=offset, timeout=long_poll_s,
                                          read_timeout=self.request_timeout,
                                          allowed_updates=list(ALLOWED_UPDATES))

    # -- replies --------------------------------------------------------------

    async def deliver(self, event: Event, replies: Sequence[Reply]) -> None:
        """Send the replies in order. A failure is logged, never raised: what the
        person submitted is already committed; a reply that cannot go out is lost
        only after the retries below."""
        for reply in replies:
            try:
                await self._with_retries(event, reply)
            except Forbidden:
                log.info("chat unreachable, marking blocked", extra={"chat_id": event.chat.id})
                if self.on_blocked and event.is_private:
                    await self.on_blocked(event.user.id)
                return
            except (NetworkError, RetryAfter) as error:  # BadRequest is a NetworkError
                log.warning("reply not delivered: %s", error.message,
                            extra={"update_id": event.update_id, "reply": type(reply).__name__})

    async def _with_retries(self, event: Event, reply: Reply) -> None:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                await self._send(event, reply)
                return
            except RetryAfter as error:
                wait = retry_after_seconds(error)
                if attempt == MAX_ATTEMPTS or wait > MAX_RETRY_AFTER_S:
                    raise
                await asyncio.sleep(wait)
            except BadRequest:
                raise  # a NetworkError in PTB, but retrying will not mend it
            except NetworkError:
                if attempt == MAX_ATTEMPTS:
                    raise
                await asyncio.sleep(0.5 * attempt)

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
                await self.bot.send_document(
                    chat_id, InputFile(content, filename=name),
                    caption=truncate_html(caption, CAPTION_LIMIT) if caption else None,
                    parse_mode="HTML", message_thread_id=thread)
            case Photo(content=content, caption=caption):
                await self._budget(chat_id)
                photo = InputFile(content, filename="photo.png") \
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
        except BadRequest as error:
            # A press answered too late (the bot was down) cannot be answered
            # any more; the replies after it still go out.
            if "query is too old" not in error.message.lower():
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
        except BadRequest as error:
            message = error.message.lower()
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
        except RetryAfter as error:
            return Delivery("retry", retry_after=retry_after_seconds(error), error=error.message)
        except ChatMigrated as error:
            return Delivery("moved", new_chat_id=error.new_chat_id, error=error.message)
        except Forbidden as error:
            return Delivery("blocked", error=error.message)
        except BadRequest as error:  # before NetworkError: PTB's BadRequest is one
            return Delivery("failed", error=error.message)
        except (NetworkError, TimeoutError, OSError) as error:  # TimedOut, 5xx
            return Delivery("retry", error=f"{type(error).__name__}: {error}")
        except InvalidToken:
            raise  # the token: nothing to do with this row (the row is taken back later)
        except TelegramError as error:  # 409, other 4xx: retrying will not mend it
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
        await self._ready()
        await self.bot.set_webhook(url, secret_token=secret, max_connections=max_connections,
                                   allowed_updates=list(ALLOWED_UPDATES),
                                   drop_pending_updates=False)

    async def delete_webhook(self) -> None:
        await self._ready()
        await self.bot.delete_webhook(drop_pending_updates=False)

    async def publish_profile(self, languages: Sequence[str], default_language: str) -> None:
        """Citizen commands and descriptions in every language we have a catalog for
        (the default one also without a language code, for everyone else)."""
        await self._ready()
        for language in [None, *languages]:
            shown = language or default_language
            commands = [BotCommand(command=n, description=d) for n, d in commands_for(shown)]
            await self.bot.set_my_commands(commands, scope=BotCommandScopeDefault(),
                                           language_code=language)
            description, short = description_for(shown)
            await self.bot.set_my_description(description, language_code=language)
            await self.bot.set_my_short_description(short, language_code=language)

    def is_fatal(self, error: BaseException) -> bool:
        return isinstance(error, InvalidToken)

    async def close(self) -> None:
        await self.bot.shutdown()
        # Bot.shutdown does nothing when initialize never succeeded.
        await asyncio.gather(self._request.shutdown(), self._updates_request.shutdown())
