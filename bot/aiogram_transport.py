"""The aiogram 3 adapter: its Bot API calls and what its exceptions mean.

Everything else (updates to Events, the order and retries of replies,
splitting, queued messages) is in :mod:`bot.bot_api`, shared with the
python-telegram-bot adapter.
"""

from __future__ import annotations

import contextlib
import json
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
from aiogram.methods.base import Response, TelegramMethod
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    BufferedInputFile,
    Update,
)
from aiohttp import ClientError, ClientTimeout
from yarl import URL

from bot.bot_api import BotApiTransport, Failure, Rows
from bot.transport import ALLOWED_UPDATES, BlockedCallback
from storage.send_limits import SendLimiter

# pydantic keeps parametrised generics in a weak cache: aiogram looks up
# Response[<result type>] on every answer, and once the garbage collector has
# dropped the class it is built again (milliseconds of schema work each time;
# about 12 % of the outbox sender's CPU at full speed; the JSON calls below
# still use it to read an error answer). Held here, for every method this
# adapter calls, they are built once.
_RESPONSE_TYPES = tuple(Response[method.__returning__] for method in (
    methods.GetUpdates, methods.SendMessage, methods.EditMessageText,
    methods.AnswerCallbackQuery, methods.SendDocument, methods.SendPhoto, methods.LeaveChat,
    methods.CopyMessage, methods.CreateForumTopic, methods.DeleteMessage,
    methods.DeleteForumTopic, methods.SetMyCommands, methods.DeleteMyCommands,
    methods.SetMyDescription, methods.SetMyShortDescription, methods.GetMe,
    methods.SetWebhook, methods.DeleteWebhook))


def _markup(rows: Rows | None) -> dict[str, Any] | None:
    if not rows:
        return None
    return {"inline_keyboard": [[{"text": label, "callback_data": data} for label, data in row]
                                for row in rows]}


JSON_BODY = {"Content-Type": "application/json"}
UNREAD_IN_PRESSED_MESSAGE = ("reply_markup", "entities")


def _without_unread_parts(raw: Any) -> Any:
    """The update less the keyboard and formatting of the message whose button
    was pressed: nothing reads them (only its chat, id and topic), and they
    were half of aiogram's validation of a press (43 of 82 µs measured)."""
    query = raw.get("callback_query") if isinstance(raw, dict) else None
    message = query.get("message") if isinstance(query, dict) else None
    if not isinstance(message, dict) or not any(k in message for k in UNREAD_IN_PRESSED_MESSAGE):
        return raw
    message = {k: v for k, v in message.items() if k not in UNREAD_IN_PRESSED_MESSAGE}
    return {**raw, "callback_query": {**query, "message": message}}


class AiogramTransport(BotApiTransport):
    name = "aiogram"

    def __init__(self, token: str, api_base: str, on_blocked: BlockedCallback | None = None,
                 request_timeout: float = 30.0, limiter: SendLimiter | None = None) -> None:
        super().__init__(on_blocked, limiter)
        session = AiohttpSession(api=TelegramAPIServer.from_base(api_base),
                                 timeout=request_timeout)
        self.bot = Bot(token=token, session=session)
        self._request_timeout = request_timeout
        self._timeout = ClientTimeout(total=request_timeout)
        self._urls: dict[str, URL] = {}

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
        return Update.model_validate(_without_unread_parts(raw), context={"bot": self.bot})

    async def get_updates(self, offset: int | None, long_poll_s: int) -> Sequence[Update]:
        # Read as JSON and validated one by one through parse_update (aiogram's
        # get_updates validates the pressed messages' keyboards too).
        raw = await self._call(methods.GetUpdates, {
            "offset": offset, "timeout": long_poll_s,
            "allowed_updates": list(ALLOWED_UPDATES)},
            time_limit=ClientTimeout(total=long_poll_s + self._request_timeout))
        return [self.parse_update(update) for update in raw]

    # -- the three calls of every update: JSON in, the one field used out ----------
    #
    # sendMessage, editMessageText and answerCallbackQuery answer nearly every
    # update. Through aiogram's generic path each built pydantic objects for
    # the call and its keyboard, walked them back into a url-encoded form and
    # validated the whole returned Message, which is never read: more CPU than
    # the engine and its transaction together (bench/throughput.py --profile).
    # These go out as a JSON body on aiogram's own HTTP session and read the
    # answer as plain JSON; an error answer is still read by aiogram
    # (check_response), so the exceptions are aiogram's and failure() is one.

    async def _call(self, method: type[TelegramMethod[Any]], payload: dict[str, Any],
                    time_limit: ClientTimeout | None = None) -> Any:
        """One Bot API call with a JSON body; its ``result`` as parsed JSON."""
        session = self.bot.session
        name = method.__api_method__
        url = self._urls.get(name)
        if url is None:  # parsed once (aiohttp parses a str on every request)
            url = self._urls[name] = URL(session.api.api_url(token=self.bot.token, method=name))
        body = {key: value for key, value in payload.items() if value is not None}
        try:
            http = await session.create_session()
            async with http.post(url, data=json.dumps(body, ensure_ascii=False).encode(),
                                 headers=JSON_BODY,
                                 timeout=time_limit or self._timeout) as answer:
                status, content = answer.status, await answer.read()
        except TimeoutError as error:
            raise TelegramNetworkError(method=method.model_construct(**body),
                                       message="Request timeout error") from error
        except ClientError as error:
            raise TelegramNetworkError(method=method.model_construct(**body),
                                       message=f"{type(error).__name__}: {error}") from error
        if status == 200:  # the Bot API answers UTF-8 JSON: no charset detection
            with contextlib.suppress(ValueError):
                parsed = json.loads(content)
                if isinstance(parsed, dict) and parsed.get("ok") is True:
                    return parsed.get("result")
        # Raises the aiogram exception the answer means (or ClientDecodeError).
        return session.check_response(self.bot, method.model_construct(**body), status,
                                      content.decode("utf-8", "replace")).result

    async def _send_message(self, chat_id: int, text: str, thread: int | None,
                            buttons: Rows | None) -> int:
        sent = await self._call(methods.SendMessage, {
            "chat_id": chat_id, "text": text, "parse_mode": "HTML",
            "reply_markup": _markup(buttons), "message_thread_id": thread})
        return int(sent["message_id"])

    async def _edit_message(self, chat_id: int, message_id: int, text: str,
                            buttons: Rows | None) -> None:
        await self._call(methods.EditMessageText, {
            "chat_id": chat_id, "message_id": message_id, "text": text, "parse_mode": "HTML",
            "reply_markup": _markup(buttons)})

    async def _answer_callback(self, callback_id: str, text: str | None, alert: bool) -> None:
        await self._call(methods.AnswerCallbackQuery, {
            "callback_query_id": callback_id, "text": text, "show_alert": alert or None})

    # -- the other Bot API calls: aiogram's methods as they are ------------------

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
