"""The python-telegram-bot 22 adapter: its Bot API calls and what its exceptions mean.

Everything else is in :mod:`bot.bot_api`, shared with the aiogram adapter.

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
import warnings
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
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

from bot.bot_api import BotApiTransport, Failure, Rows
from bot.transport import ALLOWED_UPDATES, BlockedCallback
from storage.send_limits import SendLimiter

# PTB warns on every RetryAfter it builds (its own constructor reads the
# attribute) that it will become a timedelta: both forms are handled below.
warnings.filterwarnings("ignore", message=r".*attribute `retry_after`",
                        category=PTBDeprecationWarning)

# Statuses PTB maps itself, and 413 (aiogram: a network error, retried too);
# any other 4xx would become a (retried) NetworkError.
_RETRIED_OR_MAPPED = frozenset({400, 401, 403, 404, 409, 413, 429})


class Refused(TelegramError):
    """A 4xx answer PTB has no class for (405, 422...): retrying will not mend
    it (aiogram's plain TelegramAPIError)."""


SEND_CONNECTIONS = 16


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


def _markup(rows: Rows | None) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup([
        [InlineKeyboardButton(text=label, callback_data=data) for label, data in row]
        for row in rows])


class PtbTransport(BotApiTransport):
    name = "ptb"

    def __init__(self, token: str, api_base: str, on_blocked: BlockedCallback | None = None,
                 request_timeout: float = 30.0, limiter: SendLimiter | None = None) -> None:
        super().__init__(on_blocked, limiter)
        self.request_timeout = request_timeout
        timeouts = {"read_timeout": request_timeout, "write_timeout": request_timeout,
                    "connect_timeout": request_timeout, "pool_timeout": request_timeout,
                    "media_write_timeout": request_timeout}
        # PTB's HTTPXRequest keeps ONE connection unless told otherwise (its
        # ApplicationBuilder asks for 256, but the project starts PTB itself):
        # every reply and notification then queued behind the one before, and
        # httpcore re-scanned that queue for each of them (45 % of the bot's
        # CPU in bench/throughput.py). But httpcore also checks every idle
        # connection before each request, so more is not better: measured by
        # polling on SQLite, 1 connection 114 updates/s, 8: 223, 16: 213,
        # 64: 146-201. 16 leaves room for the sender's lanes and replies at
        # Telegram's latency (about 3 requests in flight at SEND_RATE 25).
        self._request = _Request(connection_pool_size=SEND_CONNECTIONS, **timeouts)
        # getUpdates has its own connection (PTB's default too): a long poll
        # never waits behind sends, nor sends behind it.
        self._updates_request = _Request(connection_pool_size=2, **timeouts)
        self.bot = Bot(token=token, base_url=api_base + "/bot",
                       base_file_url=api_base + "/file/bot",
                       request=self._request, get_updates_request=self._updates_request)
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

    def failure(self, error: BaseException) -> Failure | None:
        match error:
            case RetryAfter():
                return Failure("retry_after", error.message,
                               retry_after=retry_after_seconds(error))
            case ChatMigrated():
                return Failure("moved", error.message, new_chat_id=error.new_chat_id)
            case Forbidden():
                return Failure("blocked", error.message)
            case BadRequest():  # before NetworkError: PTB's BadRequest is one
                return Failure("refused", error.message)
            case InvalidToken():
                return Failure("fatal", error.message)
            case NetworkError():  # TimedOut, 5xx, 413
                return Failure("transient", f"{type(error).__name__}: {error}")
            case TelegramError():  # 409, Refused (other 4xx): retrying will not mend it
                return Failure("refused", f"{type(error).__name__}: {error.message}")
        return None

    # -- updates ------------------------------------------------------------

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

    async def get_updates(self, offset: int | None, long_poll_s: int) -> Sequence[Update]:
        await self._ready()
        # PTB adds the long poll to the read timeout given: request_timeout + long_poll_s.
        return await self.bot.get_updates(offset=offset, timeout=long_poll_s,
                                          read_timeout=self.request_timeout,
                                          allowed_updates=list(ALLOWED_UPDATES))

    # -- the Bot API calls --------------------------------------------------------

    async def _send_message(self, chat_id: int, text: str, thread: int | None,
                            buttons: Rows | None) -> int:
        sent = await self.bot.send_message(chat_id, text, parse_mode="HTML",
                                           reply_markup=_markup(buttons),
                                           message_thread_id=thread)
        return sent.message_id

    async def _edit_message(self, chat_id: int, message_id: int, text: str,
                            buttons: Rows | None) -> None:
        await self.bot.edit_message_text(text=text, chat_id=chat_id, message_id=message_id,
                                         parse_mode="HTML", reply_markup=_markup(buttons))

    async def _answer_callback(self, callback_id: str, text: str | None, alert: bool) -> None:
        await self.bot.answer_callback_query(callback_id, text=text, show_alert=alert)

    async def _send_document(self, chat_id: int, name: str, content: bytes,
                             caption: str | None, thread: int | None) -> None:
        await self.bot.send_document(chat_id, InputFile(content, filename=name),
                                     caption=caption, parse_mode="HTML",
                                     message_thread_id=thread)

    async def _send_photo(self, chat_id: int, photo: bytes | str, caption: str | None,
                          thread: int | None) -> None:
        upload = InputFile(photo, filename="photo.png") if isinstance(photo, bytes) else photo
        await self.bot.send_photo(chat_id, upload, caption=caption, parse_mode="HTML",
                                  message_thread_id=thread)

    async def _leave_chat(self, chat_id: int) -> None:
        await self.bot.leave_chat(chat_id)

    async def _copy_message(self, chat_id: int, from_chat_id: int, message_id: int,
                            thread: int | None) -> int:
        copied = await self.bot.copy_message(chat_id, from_chat_id, message_id,
                                             message_thread_id=thread)
        return copied.message_id

    async def _create_topic(self, chat_id: int, name: str) -> int:
        topic = await self.bot.create_forum_topic(chat_id, name)
        return topic.message_thread_id

    async def _delete_message(self, chat_id: int, message_id: int) -> None:
        await self.bot.delete_message(chat_id, message_id)

    async def _delete_topic(self, chat_id: int, thread_id: int) -> None:
        await self.bot.delete_forum_topic(chat_id, thread_id)

    async def _set_chat_commands(self, chat_id: int, language: str | None,
                                 commands: list[tuple[str, str]]) -> None:
        await self.bot.set_my_commands(
            [BotCommand(command=n, description=d) for n, d in commands],
            scope=BotCommandScopeChat(chat_id=chat_id), language_code=language)

    async def _delete_chat_commands(self, chat_id: int, language: str | None) -> None:
        await self.bot.delete_my_commands(scope=BotCommandScopeChat(chat_id=chat_id),
                                          language_code=language)

    async def _set_profile(self, language: str | None, commands: list[tuple[str, str]],
                           description: str, short_description: str) -> None:
        await self.bot.set_my_commands(
            [BotCommand(command=n, description=d) for n, d in commands],
            scope=BotCommandScopeDefault(), language_code=language)
        await self.bot.set_my_description(description, language_code=language)
        await self.bot.set_my_short_description(short_description, language_code=language)

    async def _username(self) -> str | None:
        return self.bot.username  # known since initialize() (getMe)

    # -- webhook and closing --------------------------------------------------

    async def set_webhook(self, url: str, secret: str, max_connections: int) -> None:
        await self._ready()
        await self.bot.set_webhook(url, secret_token=secret, max_connections=max_connections,
                                   allowed_updates=list(ALLOWED_UPDATES),
                                   drop_pending_updates=False)

    async def delete_webhook(self) -> None:
        await self._ready()
        await self.bot.delete_webhook(drop_pending_updates=False)

    async def close(self) -> None:
        await self.bot.shutdown()
        # Bot.shutdown does nothing when initialize never succeeded.
        await asyncio.gather(self._request.shutdown(), self._updates_request.shutdown())
