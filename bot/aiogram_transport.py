"""The aiogram 3 adapter: its Bot API calls and what its exceptions mean.

Everything else (updates to Events, the order and retries of replies,
splitting, queued messages) is in :mod:`bot.bot_api`, shared with the
python-telegram-bot adapter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiogram import Bot, methods
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
    BotCommandScopeChat,
    BotCommandScopeDefault,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)

from bot.bot_api import BotApiTransport, Failure, Rows
from bot.transport import ALLOWED_UPDATES, BlockedCallback
from storage.send_limits import SendLimiter

# pydantic keeps parametrised generics in a weak cache: aiogram looks up
# Response[<result type>] on every answer, and once the garbage collector has
# dropped the class it is built again (milliseconds of schema work each time;
# about 12 % of the outbox sender's CPU at full speed, and 4 % of the bot's in
# bench/throughput.py for editMessageText's Message | bool alone). Held here,
# for every method this adapter calls, they are built once.
_RESPONSE_TYPES = tuple(Response[method.__returning__] for method in (
    methods.GetUpdates, methods.SendMessage, methods.EditMessageText,
    methods.AnswerCallbackQuery, methods.SendDocument, methods.SendPhoto, methods.LeaveChat,
    methods.CopyMessage, methods.CreateForumTopic, methods.DeleteMessage,
    methods.DeleteForumTopic, methods.SetMyCommands, methods.DeleteMyCommands,
    methods.SetMyDescription, methods.SetMyShortDescription, methods.GetMe,
    methods.SetWebhook, methods.DeleteWebhook))


def _markup(rows: Rows | None) -> InlineKeyboardMarkup | None:
    # model_construct: the labels and data are ours, already checked by the
    # engine; pydantic's validation of every button was 3 % of the bot's CPU.
    if not rows:
        return None
    return InlineKeyboardMarkup.model_construct(inline_keyboard=[
        [InlineKeyboardButton.model_construct(text=label, callback_data=data)
         for label, data in row]
        for row in rows])


class AiogramTransport(BotApiTransport):
    name = "aiogram"

    def __init__(self, token: str, api_base: str, on_blocked: BlockedCallback | None = None,
                 request_timeout: float = 30.0, limiter: SendLimiter | None = None) -> None:
        super().__init__(on_blocked, limiter)
        session = AiohttpSession(api=TelegramAPIServer.from_base(api_base),
                                 timeout=request_timeout)
        self.bot = Bot(token=token, session=session)

    def failure(self, error: BaseException) -> Failure | None:
        match error:
            case TelegramRetryAfter():
                return Failure("retry_after", error.message,
                               retry_after=float(error.retry_after))
            case TelegramMigrateToChat():
                return Failure("moved", error.message, new_chat_id=error.migrate_to_chat_id)
            case TelegramForbiddenError():
                return Failure("blocked", error.message)
            case TelegramBadRequest():
                return Failure("refused", error.message)
            case TelegramNetworkError() | TelegramServerError():
                return Failure("transient", f"{type(error).__name__}: {error}")
            case TelegramUnauthorizedError():
                return Failure("fatal", error.message)
            case TelegramAPIError():  # 404, 409, 413...: retrying will not mend it
                return Failure("refused", f"{type(error).__name__}: {error.message}")
        return None

    # -- updates ------------------------------------------------------------

    def parse_update(self, raw: dict[str, Any]) -> Update:
        return Update.model_validate(raw, context={"bot": self.bot})

    async def get_updates(self, offset: int | None, long_poll_s: int) -> Sequence[Update]:
        return await self.bot.get_updates(offset=offset, timeout=long_poll_s,
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
        await self.bot.send_document(chat_id, BufferedInputFile(content, filename=name),
                                     caption=caption, parse_mode="HTML",
                                     message_thread_id=thread)

    async def _send_photo(self, chat_id: int, photo: bytes | str, caption: str | None,
                          thread: int | None) -> None:
        upload = BufferedInputFile(photo, filename="photo.png") if isinstance(photo, bytes) \
            else photo
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
        return (await self.bot.get_me()).username

    # -- webhook and closing ------------------------------------------------------

    async def set_webhook(self, url: str, secret: str, max_connections: int) -> None:
        await self.bot.set_webhook(url, secret_token=secret, max_connections=max_connections,
                                   allowed_updates=list(ALLOWED_UPDATES),
                                   drop_pending_updates=False)

    async def delete_webhook(self) -> None:
        await self.bot.delete_webhook(drop_pending_updates=False)

    async def close(self) -> None:
        await self.bot.session.close()
