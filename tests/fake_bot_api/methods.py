"""The Bot API methods the fake implements, with Telegram's refusals.

A mixin of :class:`~tests.fake_bot_api.server.FakeBotAPI`: every handler
takes the decoded parameters and the uploaded files, returns the ``result``
of an ok answer or raises :class:`TelegramError`. Descriptions are the ones
Telegram sends; where Telegram's exact wording is not known the docstring of
the check says so.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .entities import HtmlParseError, ParsedText, parse_html, strip_private, trim
from .limits import SlidingWindow
from .records import ChatState, SentMessage, TelegramError, bad_request

if TYPE_CHECKING:
    from .server import FakeBotAPI, Handler, UploadedFile

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64  # bytes
ANSWER_TEXT_LIMIT = 200

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
TEXT_BUTTONS = (
    "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
)

_INLINE_ACTIONS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_COMMAND_RE = re.compile(r"^[a-z0-9_]+$")
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]+$")
_SCOPES_WITH_CHAT = frozenset({"chat", "chat_administrators", "chat_member"})
_SCOPES = (
    frozenset({"default", "all_private_chats", "all_group_chats", "all_chat_administrators"})
    | _SCOPES_WITH_CHAT
)
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class _Poller:
    """One getUpdates request waiting for updates."""

    def __init__(self) -> None:
        self.wake = asyncio.Event()
        self.terminated = False


class _WithDescription:
    """An ok answer that also carries "description" (setWebhook, deleteWebhook)."""

    def __init__(self, result: Any, description: str) -> None:
        self.result = result
        self.description = description


def _markup_key(markup: dict[str, Any] | None) -> Any:
    """A keyboard as Telegram compares it: no rows or no buttons means none."""
    if not markup or "inline_keyboard" not in markup:
        return None
    rows = [row for row in markup["inline_keyboard"] if row]
    return rows or None


class BotMethods:
    """Handlers for Bot API methods; mixed into FakeBotAPI."""

    def _method_table(self: FakeBotAPI) -> dict[str, Handler]:
        return {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "sendDocument": self._send_document,
            "sendPhoto": self._send_photo,
            "copyMessage": self._copy_message,
            "forwardMessage": self._forward_message,
            "sendChatAction": self._send_chat_action,
            "leaveChat": self._leave_chat,
            "getChat": self._get_chat,
            "getFile": self._get_file,
            "createForumTopic": self._create_forum_topic,
            "deleteForumTopic": self._delete_forum_topic,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setMyDescription": self._set_my_description,
            "getMyDescription": self._get_my_description,
            "setMyShortDescription": self._set_my_short_description,
            "getMyShortDescription": self._get_my_short_description,
            "close": self._true,
            "logOut": self._true,
        }

    # ------------------------------------------------------------------ shared checks

    def bot_user(self: FakeBotAPI) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def _chat_for(self: FakeBotAPI, chat_id: Any, *, sending: bool = True) -> ChatState:
        """Resolve chat_id; with ``sending``, refuse chats the bot cannot write to."""
        if chat_id is None or chat_id == "":
            raise bad_request("chat_id is empty")
        chat: ChatState | None = None
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            chat = next(
                (c for c in self._all_chats() if c.username and f"@{c.username}" == chat_id),
                None,
            )
        elif isinstance(chat_id, int):
            chat = self._chats.get(chat_id)
        if chat is None:
            raise bad_request("chat not found")
        if not sending:
            return chat
        if chat.migrated_to is not None:
            raise bad_request(
                "group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        if chat.forbidden:
            raise TelegramError(403, chat.forbidden)
        if chat.type == "private" and not chat.started:
            raise TelegramError(403, "Forbidden: bot can't initiate conversation with a user")
        if chat.id in self.left_chats:
            raise TelegramError(403, f"Forbidden: bot is not a member of the {chat.type} chat")
        return chat

    def _parse(self: FakeBotAPI, source: Any, parse_mode: Any, entities: Any) -> ParsedText:
        """Text as the user will see it, per parse_mode; trimmed like Telegram."""
        text = "" if source is None else str(source)
        mode = (parse_mode or "").lower() if isinstance(parse_mode, str) else ""
        if mode == "html":
            try:
                parsed = parse_html(text, strict_ampersand=self.strict_ampersand)
            except HtmlParseError as exc:
                raise bad_request(f"can't parse entities: {exc}") from None
        elif mode in ("", "markdown", "markdownv2"):
            # Markdown is not parsed by the fake: the project sends HTML.
            given = entities if isinstance(entities, list) else []
            parsed = ParsedText(text, [dict(e) for e in given if isinstance(e, dict)])
        else:
            raise bad_request("unsupported parse_mode")
        return trim(parsed)

    def _text(self: FakeBotAPI, params: dict[str, Any]) -> ParsedText:
        parsed = self._parse(params.get("text"), params.get("parse_mode"), params.get("entities"))
        if not parsed.text:
            raise bad_request("message text is empty")
        # Telegram counts the text after entity parsing (&lt; is one character).
        if len(parsed.text) > TEXT_LIMIT:
            raise bad_request("message is too long")
        return parsed

    def _caption(self: FakeBotAPI, params: dict[str, Any]) -> ParsedText | None:
        if params.get("caption") in (None, ""):
            return None
        parsed = self._parse(
            params["caption"], params.get("parse_mode"), params.get("caption_entities")
        )
        if len(parsed.text) > CAPTION_LIMIT:
            raise bad_request("message caption is too long")
        return parsed

    def _markup(self: FakeBotAPI, markup: Any) -> dict[str, Any] | None:
        """Validate reply_markup; returns it with null fields dropped."""
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            if not any(k in markup for k in ("keyboard", "remove_keyboard", "force_reply")):
                raise bad_request("can't parse reply keyboard markup JSON object")
            return markup
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request(
                'can\'t parse inline keyboard: field "inline_keyboard" must be an Array of Arrays'
            )
        clean_rows: list[list[dict[str, Any]]] = []
        for row in rows:
            clean_row = []
            for button in row:
                clean_row.append(self._inline_button(button))
            clean_rows.append(clean_row)
        return {"inline_keyboard": clean_rows}

    @staticmethod
    def _inline_button(button: Any) -> dict[str, Any]:
        if not isinstance(button, dict):
            raise bad_request("can't parse inline keyboard button: Object expected")
        clean = {k: v for k, v in button.items() if v is not None}
        text = clean.get("text")
        if not isinstance(text, str):
            raise bad_request(
                'can\'t parse inline keyboard button: Field "text" must be of type String'
            )
        if not text.strip():
            # Exact wording for an empty label is not known; 400 either way.
            raise bad_request(TEXT_BUTTONS)
        # An empty callback_data counts as absent: Telegram then sees a text button.
        actions = [k for k in _INLINE_ACTIONS if k in clean and clean[k] != ""]
        if not actions:
            raise bad_request(TEXT_BUTTONS)
        data = clean.get("callback_data")
        if data is not None:
            if not isinstance(data, str):
                raise bad_request(
                    'can\'t parse inline keyboard button: Field "callback_data" must be of '
                    "type String"
                )
            if len(data.encode("utf-8")) > CALLBACK_DATA_LIMIT:
                raise bad_request("BUTTON_DATA_INVALID")
        url = clean.get("url")
        if url is not None and (
            not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https", "tg")
        ):
            raise bad_request("BUTTON_URL_INVALID")
        return clean

    def _thread(self: FakeBotAPI, chat: ChatState, params: dict[str, Any]) -> int | None:
        thread = params.get("message_thread_id")
        if thread in (None, "", 0):
            return None
        if chat.is_forum and thread not in chat.topics:
            raise bad_request("message thread not found")
        return int(thread)

    def _reply_to(self: FakeBotAPI, chat: ChatState, params: dict[str, Any]) -> int | None:
        reply = params.get("reply_parameters")
        allow_missing = bool(params.get("allow_sending_without_reply"))
        target: Any = params.get("reply_to_message_id")
        if isinstance(reply, dict):
            target = reply.get("message_id")
            allow_missing = bool(reply.get("allow_sending_without_reply", allow_missing))
            if reply.get("chat_id") not in (None, chat.id):
                return None  # a reply to another chat's message: not checked
        if target in (None, "", 0):
            return None
        if self._find_any(chat.id, int(target)) is None:
            if allow_missing:
                return None
            raise bad_request("message to be replied not found")
        return int(target)

    def _find_any(self: FakeBotAPI, chat_id: int, message_id: int) -> dict[str, Any] | None:
        """The message (bot's or user's) as a Message object, or None."""
        user_message = self._user_messages.get((chat_id, message_id))
        if user_message is not None:
            return user_message.message
        for sent in self._messages.get(chat_id, []):
            if sent.message_id == message_id and not sent.deleted:
                return self.message_json(sent, with_reply=False)
        return None

    def _bot_message(self: FakeBotAPI, chat_id: int, message_id: Any) -> SentMessage | None:
        for sent in self._messages.get(chat_id, []):
            if sent.message_id == message_id and not sent.deleted:
                return sent
        return None

    def _check_rate(self: FakeBotAPI, method: str, chat: ChatState) -> None:
        """429 when a send would exceed a configured sliding window.

        Sends are recorded even while a limit is off, so a limit switched on
        in the middle of a test already counts the sends just before it.
        """
        if method not in self.rate_limited_methods:
            return
        now = self.now()
        windows: list[tuple[SlidingWindow, int | None]] = [(self._global_window, self.global_rate)]
        if chat.type == "private":
            window = self._chat_windows.setdefault(chat.id, SlidingWindow(1.0))
            windows.append((window, self.per_chat_rate))
        elif chat.type in ("group", "supergroup"):
            window = self._group_windows.setdefault(chat.id, SlidingWindow(60.0))
            windows.append((window, self.per_group_per_minute))
        waits = [
            wait
            for window, limit in windows
            if limit and (wait := window.retry_after(now, limit)) is not None
        ]
        if waits:
            retry = max(waits)
            raise TelegramError(
                429, f"Too Many Requests: retry after {retry}", {"retry_after": retry}
            )
        for window, _ in windows:
            window.add(now)

    def _store(self: FakeBotAPI, chat: ChatState, **fields: Any) -> SentMessage:
        sent = SentMessage(
            chat_id=chat.id,
            message_id=chat.next_message_id,
            date=self.unix_now(),
            **fields,
        )
        chat.next_message_id += 1
        self._messages.setdefault(chat.id, []).append(sent)
        return sent

    def message_json(
        self: FakeBotAPI, sent: SentMessage, *, with_reply: bool = True
    ) -> dict[str, Any]:
        """The Message object Telegram would return for a stored message."""
        chat = self._chats[sent.chat_id]
        message: dict[str, Any] = {
            "message_id": sent.message_id,
            "from": self.bot_user(),
            "chat": chat.as_chat(),
            "date": sent.date,
        }
        if sent.message_thread_id is not None:
            message["message_thread_id"] = sent.message_thread_id
            if chat.is_forum:
                message["is_topic_message"] = True
        if sent.edit_date is not None:
            message["edit_date"] = sent.edit_date
        if with_reply and sent.reply_to_message_id is not None:
            replied = self._find_any(sent.chat_id, sent.reply_to_message_id)
            if replied is not None:
                message["reply_to_message"] = replied
        if sent.media:
            message.update(sent.media)
        if sent.plain_text is not None:
            message["text"] = sent.plain_text
            if sent.entities:
                message["entities"] = strip_private(sent.entities)
        if sent.plain_caption is not None:
            message["caption"] = sent.plain_caption
            if sent.caption_entities:
                message["caption_entities"] = strip_private(sent.caption_entities)
        if sent.reply_markup and "inline_keyboard" in sent.reply_markup:
            # Telegram echoes only inline keyboards in the returned message.
            message["reply_markup"] = sent.reply_markup
        return message

    # ------------------------------------------------------------------ bot info

    async def _true(self: FakeBotAPI, params: dict[str, Any], files: Any) -> bool:
        return True

    async def _get_me(self: FakeBotAPI, params: dict[str, Any], files: Any) -> dict[str, Any]:
        return {
            **self.bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    # ------------------------------------------------------------------ updates

    async def _get_updates(self: FakeBotAPI, params: dict[str, Any], files: Any) -> list[Any]:
        if self.webhook_url:
            raise TelegramError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self.allowed_updates = [str(a) for a in allowed] or None
        offset = params.get("offset")
        if isinstance(offset, int) and offset != 0:
            # Confirmation happens on receipt, even if this poll is terminated later.
            if offset > 0:
                keep = [u for u in self._updates if u["update_id"] >= offset]
            else:
                keep = self._updates[offset:]
            self.confirmed_update_ids.extend(u["update_id"] for u in self._updates if u not in keep)
            self._updates = keep
            self._notify()  # wake tests waiting for a confirmation
        limit = params.get("limit")
        limit = min(max(limit, 1), 100) if isinstance(limit, int) else 100
        try:
            timeout = float(params.get("timeout") or 0)
        except (TypeError, ValueError):
            timeout = 0.0
        timeout = min(max(timeout, 0.0), self.max_poll_timeout)
        # A second poller terminates the one already waiting, as on Telegram.
        for earlier in self._pollers:
            earlier.terminated = True
            earlier.wake.set()
        poller = _Poller()
        self._pollers.append(poller)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while True:
                if poller.terminated:
                    raise TelegramError(
                        409,
                        "Conflict: terminated by other getUpdates request; "
                        "make sure that only one bot instance is running",
                    )
                if self._updates:
                    return list(self._updates[:limit])
                remaining = deadline - loop.time()
                if remaining <= 0 or self._stopping:
                    return []
                poller.wake.clear()
                try:
                    await asyncio.wait_for(poller.wake.wait(), remaining)
                except TimeoutError:
                    pass
        finally:
            self._pollers.remove(poller)

    async def _set_webhook(self: FakeBotAPI, params: dict[str, Any], files: Any) -> Any:
        url = params.get("url") or ""
        if not url:
            return await self._delete_webhook(params, files)
        parts = urlsplit(str(url))
        # Loopback URLs are the tests' own webhook servers; anything else must
        # pass Telegram's checks (and is unreachable from the fake anyway).
        if parts.hostname not in _LOOPBACK:
            if parts.scheme != "https":
                raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
            if (parts.port or 443) not in (443, 80, 88, 8443):
                raise bad_request(
                    "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
                )
        elif parts.scheme not in ("http", "https"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token") or None
        if secret is not None:
            # Wording unverified; the rule (1-256 of A-Z a-z 0-9 _ -) is documented.
            if len(secret) > 256:
                raise bad_request("secret token is too long")
            if not _SECRET_RE.match(secret):
                raise bad_request("secret token contains unallowed characters")
        max_connections = params.get("max_connections")
        # Telegram clamps max_connections into 1..100 rather than refusing it.
        connections = min(max(max_connections, 1), 100) if isinstance(max_connections, int) else 40
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self.allowed_updates = [str(a) for a in allowed] or None
        if params.get("drop_pending_updates"):
            self._updates.clear()
        already = self.webhook_url == url
        self.webhook_url = str(url)
        self.webhook_secret = secret
        self.webhook_max_connections = connections
        self._webhook_slots = asyncio.Semaphore(connections)
        self._webhook_error = None
        # A pending getUpdates ends when a webhook is set.
        for poller in self._pollers:
            poller.wake.set()
        return _WithDescription(True, "Webhook is already set" if already else "Webhook was set")

    async def _delete_webhook(self: FakeBotAPI, params: dict[str, Any], files: Any) -> Any:
        if params.get("drop_pending_updates"):
            self._updates.clear()
        had = self.webhook_url is not None
        self.webhook_url = None
        self.webhook_secret = None
        return _WithDescription(
            True, "Webhook was deleted" if had else "Webhook is already deleted"
        )

    async def _get_webhook_info(
        self: FakeBotAPI, params: dict[str, Any], files: Any
    ) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": self.webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook_url:
            info["max_connections"] = self.webhook_max_connections
            info["ip_address"] = "127.0.0.1"
            if self.allowed_updates:
                info["allowed_updates"] = list(self.allowed_updates)
            if self._webhook_error is not None:
                info["last_error_date"], info["last_error_message"] = self._webhook_error
        return info

    # ------------------------------------------------------------------ sending

    async def _send_message(self: FakeBotAPI, params: dict[str, Any], files: Any) -> dict[str, Any]:
        chat = self._chat_for(params.get("chat_id"))
        parsed = self._text(params)
        markup = self._markup(params.get("reply_markup"))
        thread = self._thread(chat, params)
        reply_to = self._reply_to(chat, params)
        self._check_rate("sendMessage", chat)
        sent = self._store(
            chat,
            kind="text",
            text=str(params.get("text")),
            plain_text=parsed.text,
            parse_mode=params.get("parse_mode"),
            entities=parsed.entities,
            reply_markup=markup,
            reply_to_message_id=reply_to,
            message_thread_id=thread,
        )
        return self.message_json(sent)

    def _input_file(
        self: FakeBotAPI, params: dict[str, Any], files: dict[str, UploadedFile], field: str
    ) -> tuple[str, bytes | None, str | None]:
        """(file_id, bytes, file name) of an upload, attach:// reference or file_id."""
        value = params.get(field)
        upload = files.get(field)
        if isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value[len("attach://") :])
        if upload is not None:
            if not upload.content:
                raise bad_request("file must be non-empty")
            file_id = self._new_file_id("BQACAgQAAx" if field == "document" else "AgACAgQAAx")
            self.files[file_id] = (upload.content, upload.filename)
            return file_id, upload.content, upload.filename
        if isinstance(value, str) and value and not value.startswith("attach://"):
            # A file_id (or URL) is accepted as-is; known ids keep their bytes.
            content, name = self.files.get(value, (None, None))
            return value, content, name
        raise bad_request(f"there is no {field} in the request")

    async def _send_document(
        self: FakeBotAPI, params: dict[str, Any], files: Any
    ) -> dict[str, Any]:
        chat = self._chat_for(params.get("chat_id"))
        file_id, content, name = self._input_file(params, files, "document")
        caption = self._caption(params)
        markup = self._markup(params.get("reply_markup"))
        thread = self._thread(chat, params)
        reply_to = self._reply_to(chat, params)
        self._check_rate("sendDocument", chat)
        document: dict[str, Any] = {"file_id": file_id, "file_unique_id": f"u{file_id[-8:]}"}
        if name:
            document["file_name"] = name
        if content is not None:
            document["file_size"] = len(content)
        sent = self._store(
            chat,
            kind="document",
            document_name=name,
            document_bytes=content,
            file_id=file_id,
            media={"document": document},
            **self._caption_fields(params, caption),
            reply_markup=markup,
            reply_to_message_id=reply_to,
            message_thread_id=thread,
        )
        return self.message_json(sent)

    async def _send_photo(self: FakeBotAPI, params: dict[str, Any], files: Any) -> dict[str, Any]:
        chat = self._chat_for(params.get("chat_id"))
        file_id, content, _ = self._input_file(params, files, "photo")
        caption = self._caption(params)
        markup = self._markup(params.get("reply_markup"))
        thread = self._thread(chat, params)
        reply_to = self._reply_to(chat, params)
        self._check_rate("sendPhoto", chat)
        size = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id[-8:]}",
            "width": 800,
            "height": 600,
        }
        if content is not None:
            size["file_size"] = len(content)
        sent = self._store(
            chat,
            kind="photo",
            photo_bytes=content,
            file_id=file_id,
            media={"photo": [size]},
            **self._caption_fields(params, caption),
            reply_markup=markup,
            reply_to_message_id=reply_to,
            message_thread_id=thread,
        )
        return self.message_json(sent)

    @staticmethod
    def _caption_fields(params: dict[str, Any], caption: ParsedText | None) -> dict[str, Any]:
        if caption is None:
            return {}
        return {
            "caption": str(params.get("caption")),
            "plain_caption": caption.text,
            "caption_entities": caption.entities,
            "parse_mode": params.get("parse_mode"),
        }

    def _source(self: FakeBotAPI, params: dict[str, Any], what: str) -> dict[str, Any]:
        from_chat = self._chat_for(params.get("from_chat_id"), sending=False)
        message_id = params.get("message_id")
        source = self._find_any(from_chat.id, message_id) if isinstance(message_id, int) else None
        if source is None:
            raise bad_request(f"message to {what} not found")
        return source

    async def _copy_message(self: FakeBotAPI, params: dict[str, Any], files: Any) -> dict[str, Any]:
        chat = self._chat_for(params.get("chat_id"))
        source = self._source(params, "copy")
        markup = self._markup(params.get("reply_markup"))
        thread = self._thread(chat, params)
        reply_to = self._reply_to(chat, params)
        fields = self._copied_fields(source)
        if "caption" in params:
            caption = self._caption(params)
            fields.update(
                self._caption_fields(params, caption)
                if caption
                else {"caption": None, "plain_caption": None, "caption_entities": []}
            )
        self._check_rate("copyMessage", chat)
        sent = self._store(
            chat,
            kind="copy",
            copied_from=(int(params["from_chat_id"]), int(params["message_id"])),
            reply_markup=markup,
            reply_to_message_id=reply_to,
            message_thread_id=thread,
            **fields,
        )
        return {"message_id": sent.message_id}

    async def _forward_message(
        self: FakeBotAPI, params: dict[str, Any], files: Any
    ) -> dict[str, Any]:
        chat = self._chat_for(params.get("chat_id"))
        source = self._source(params, "forward")
        thread = self._thread(chat, params)
        self._check_rate("forwardMessage", chat)
        fields = self._copied_fields(source)
        origin = source.get("from") or self.bot_user()
        fields["media"] = {
            **(fields.get("media") or {}),
            "forward_origin": {"type": "user", "sender_user": origin, "date": source["date"]},
        }
        sent = self._store(
            chat,
            kind="forward",
            copied_from=(int(params["from_chat_id"]), int(params["message_id"])),
            message_thread_id=thread,
            **fields,
        )
        return self.message_json(sent)

    @staticmethod
    def _copied_fields(source: dict[str, Any]) -> dict[str, Any]:
        """Content of a message being copied: text, caption and media keys."""
        media_keys = (
            "document",
            "photo",
            "voice",
            "audio",
            "video",
            "video_note",
            "sticker",
            "location",
            "contact",
            "animation",
        )
        fields: dict[str, Any] = {
            "media": {k: source[k] for k in media_keys if k in source} or None,
        }
        if "text" in source:
            fields.update(
                text=source["text"], plain_text=source["text"], entities=source.get("entities", [])
            )
        if "caption" in source:
            fields.update(
                caption=source["caption"],
                plain_caption=source["caption"],
                caption_entities=source.get("caption_entities", []),
            )
        if "document" in source:
            fields["document_name"] = source["document"].get("file_name")
            fields["file_id"] = source["document"].get("file_id")
        return fields

    async def _send_chat_action(self: FakeBotAPI, params: dict[str, Any], files: Any) -> bool:
        chat = self._chat_for(params.get("chat_id"))
        action = params.get("action")
        if action not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        self._thread(chat, params)
        self.chat_actions.append((chat.id, str(action)))
        return True

    # ------------------------------------------------------------------ editing

    def _edit_target(self: FakeBotAPI, params: dict[str, Any]) -> tuple[ChatState, SentMessage]:
        if params.get("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")  # inline messages are not simulated
        chat = self._chat_for(params.get("chat_id"))
        message_id = params.get("message_id")
        if message_id in (None, ""):
            raise bad_request("message identifier is not specified")
        sent = self._bot_message(chat.id, message_id)
        if sent is None:
            if (chat.id, message_id) in self._user_messages:
                raise bad_request("message can't be edited")
            raise bad_request("message to edit not found")
        return chat, sent

    async def _edit_message_text(self: FakeBotAPI, params: dict[str, Any], files: Any) -> Any:
        chat, sent = self._edit_target(params)
        if sent.plain_text is None:
            raise bad_request("there is no text in the message to edit")
        parsed = self._text(params)
        markup = self._markup(params.get("reply_markup"))
        # Omitting reply_markup removes the keyboard, so compare with None then.
        if (
            parsed.text == sent.plain_text
            and strip_private(parsed.entities) == strip_private(sent.entities)
            and _markup_key(markup) == _markup_key(sent.reply_markup)
        ):
            raise bad_request(NOT_MODIFIED)
        self._check_rate("editMessageText", chat)
        sent.history.append((sent.text, sent.reply_markup))
        sent.text = str(params.get("text"))
        sent.plain_text = parsed.text
        sent.entities = parsed.entities
        sent.parse_mode = params.get("parse_mode")
        sent.reply_markup = markup
        sent.edited = True
        sent.edit_count += 1
        sent.edit_date = self.unix_now()
        return self.message_json(sent)

    async def _edit_message_reply_markup(
        self: FakeBotAPI, params: dict[str, Any], files: Any
    ) -> Any:
        chat, sent = self._edit_target(params)
        markup = self._markup(params.get("reply_markup"))
        if _markup_key(markup) == _markup_key(sent.reply_markup):
            raise bad_request(NOT_MODIFIED)
        self._check_rate("editMessageReplyMarkup", chat)
        sent.history.append((sent.text, sent.reply_markup))
        sent.reply_markup = markup
        sent.edited = True
        sent.edit_count += 1
        sent.edit_date = self.unix_now()
        return self.message_json(sent)

    async def _delete_message(self: FakeBotAPI, params: dict[str, Any], files: Any) -> bool:
        chat = self._chat_for(params.get("chat_id"))
        message_id = params.get("message_id")
        sent = self._bot_message(chat.id, message_id)
        if sent is not None:
            sent.deleted = True
            return True
        if self._user_messages.pop((chat.id, message_id), None) is not None:  # type: ignore[arg-type]
            return True
        raise bad_request("message to delete not found")

    # ------------------------------------------------------------------ callbacks

    async def _answer_callback_query(self: FakeBotAPI, params: dict[str, Any], files: Any) -> bool:
        text = params.get("text") or ""
        if len(str(text)) > ANSWER_TEXT_LIMIT:
            raise bad_request("MESSAGE_TOO_LONG")  # wording unverified
        query_id = str(params.get("callback_query_id") or "")
        record = self._callbacks.get(query_id)
        if (
            record is None
            or record.answered
            or self.now() - record.created_at > self.callback_answer_timeout
        ):
            raise bad_request(QUERY_TOO_OLD)
        record.answered = True
        record.answer = dict(params)
        self.callback_answers[query_id] = dict(params)
        return True

    # ------------------------------------------------------------------ chats

    async def _leave_chat(self: FakeBotAPI, params: dict[str, Any], files: Any) -> bool:
        chat = self._chat_for(params.get("chat_id"), sending=False)
        if chat.type == "private":
            raise bad_request("chat member status can't be changed in private chats")
        self.left_chats.add(chat.id)
        return True

    async def _get_chat(self: FakeBotAPI, params: dict[str, Any], files: Any) -> dict[str, Any]:
        chat = self._chat_for(params.get("chat_id"), sending=False)
        return {
            **chat.as_chat(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    async def _get_file(self: FakeBotAPI, params: dict[str, Any], files: Any) -> dict[str, Any]:
        file_id = str(params.get("file_id") or "")
        if file_id not in self.files:
            raise bad_request("invalid file_id")
        content, name = self.files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id[-8:]}",
            "file_size": len(content),
            "file_path": f"documents/{name or file_id}",
        }

    async def _create_forum_topic(self: FakeBotAPI, params: dict[str, Any], files: Any) -> Any:
        chat = self._chat_for(params.get("chat_id"))
        if not chat.is_forum:
            raise bad_request("the chat is not a forum")
        name = str(params.get("name") or "")
        if not 1 <= len(name) <= 128:
            raise bad_request("TOPIC_TITLE_EMPTY" if not name else "TOPIC_TITLE_INVALID")
        # A topic's id is the id of the service message that created it.
        thread_id = chat.next_message_id
        chat.next_message_id += 1
        chat.topics[thread_id] = name
        return {"message_thread_id": thread_id, "name": name, "icon_color": 7322096}

    async def _delete_forum_topic(self: FakeBotAPI, params: dict[str, Any], files: Any) -> bool:
        chat = self._chat_for(params.get("chat_id"))
        if chat.topics.pop(params.get("message_thread_id"), None) is None:  # type: ignore[arg-type]
            raise bad_request("message thread not found")
        return True

    # ------------------------------------------------------------------ commands, descriptions

    def _scope_key(self: FakeBotAPI, params: dict[str, Any]) -> tuple[str, Any, str]:
        scope = params.get("scope") or {"type": "default"}
        if not isinstance(scope, dict) or scope.get("type") not in _SCOPES:
            raise bad_request("can't parse BotCommandScope: unsupported type")  # wording unverified
        kind = str(scope["type"])
        chat_key: Any = None
        if kind in _SCOPES_WITH_CHAT:
            chat_key = self._chat_for(scope.get("chat_id"), sending=False).id
            if kind == "chat_member":
                chat_key = (chat_key, scope.get("user_id"))
        return kind, chat_key, str(params.get("language_code") or "")

    async def _set_my_commands(self: FakeBotAPI, params: dict[str, Any], files: Any) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        clean: list[dict[str, str]] = []
        # Wording of these refusals is unverified; the rules are documented.
        for item in commands:
            if not isinstance(item, dict):
                raise bad_request("can't parse BotCommand")
            command = str(item.get("command") or "").strip().removeprefix("/")
            description = str(item.get("description") or "").strip()
            if not command:
                raise bad_request("command must be non-empty")
            if len(command) > 32:
                raise bad_request("command length must not exceed 32")
            if not _COMMAND_RE.match(command):
                raise bad_request("BOT_COMMAND_INVALID")
            if not description:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            if len(description) > 256:
                raise bad_request("command description length must not exceed 256")
            clean.append({"command": command, "description": description})
        key = self._scope_key(params)
        if clean:
            self.commands[key] = clean
        else:
            self.commands.pop(key, None)
        return True

    async def _get_my_commands(self: FakeBotAPI, params: dict[str, Any], files: Any) -> Any:
        return list(self.commands.get(self._scope_key(params), []))

    async def _delete_my_commands(self: FakeBotAPI, params: dict[str, Any], files: Any) -> bool:
        self.commands.pop(self._scope_key(params), None)
        return True

    async def _set_my_description(self: FakeBotAPI, params: dict[str, Any], files: Any) -> bool:
        return self._set_text(self.descriptions, params, "description", 512)

    async def _set_my_short_description(
        self: FakeBotAPI, params: dict[str, Any], files: Any
    ) -> bool:
        return self._set_text(self.short_descriptions, params, "short_description", 120)

    @staticmethod
    def _set_text(store: dict[str, str], params: dict[str, Any], field: str, limit: int) -> bool:
        text = str(params.get(field) or "")
        if len(text) > limit:
            raise bad_request(f"{field.replace('_', ' ')} is too long")  # wording unverified
        language = str(params.get("language_code") or "")
        if text:
            store[language] = text
        else:
            store.pop(language, None)
        return True

    async def _get_my_description(self: FakeBotAPI, params: dict[str, Any], files: Any) -> Any:
        return {"description": self.descriptions.get(str(params.get("language_code") or ""), "")}

    async def _get_my_short_description(
        self: FakeBotAPI, params: dict[str, Any], files: Any
    ) -> Any:
        language = str(params.get("language_code") or "")
        return {"short_description": self.short_descriptions.get(language, "")}
