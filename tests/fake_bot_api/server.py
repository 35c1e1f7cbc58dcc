"""The fake Bot API server: HTTP plumbing, state, and the test-facing API.

The Bot API methods themselves live in :mod:`.methods` (a mixin), the
simulated users and groups in :mod:`.users`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, Self

import aiohttp
from aiohttp import web

from .limits import SlidingWindow
from .methods import BotMethods, _Poller, _WithDescription
from .records import (
    FORBIDDEN_REASONS,
    Call,
    CallbackRecord,
    ChatState,
    Sent,
    SentMessage,
    TelegramError,
    UserMessage,
    WebhookDelivery,
)
from .users import SimGroup, SimUser

# Methods that count against the flood limits by default. Edits are left out
# on purpose: a test that turns on a 1/s per-chat limit still wants the usual
# "press a button -> the message is edited" flow to pass. Add
# "editMessageText" to ``fake.rate_limited_methods`` to count edits too.
SEND_METHODS = frozenset(
    {"sendMessage", "sendDocument", "sendPhoto", "copyMessage", "forwardMessage"}
)

# Update types delivered when allowed_updates is unset or empty (Bot API docs).
_NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

# Parameters whose form-encoded values are JSON (aiogram and PTB serialise
# nested objects and lists to JSON strings in form bodies).
_JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "allowed_updates",
        "commands",
        "scope",
        "link_preview_options",
        "reply_parameters",
        "media",
        "menu_button",
        "rights",
        "message_ids",
    }
)
_INT_FIELDS = frozenset(
    {
        "chat_id",
        "from_chat_id",
        "message_id",
        "message_thread_id",
        "reply_to_message_id",
        "offset",
        "limit",
        "timeout",
        "max_connections",
        "cache_time",
        "user_id",
        "icon_color",
        "duration",
        "width",
        "height",
    }
)
_BOOL_FIELDS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "show_alert",
        "drop_pending_updates",
        "disable_web_page_preview",
        "allow_sending_without_reply",
        "allow_paid_broadcast",
        "has_spoiler",
        "disable_content_type_detection",
        "show_caption_above_media",
        "remove_caption",
    }
)

_JSON_ERRORS = {
    "reply_markup": "can't parse reply keyboard markup JSON object",
    "entities": "can't parse entities JSON object",
    "caption_entities": "can't parse caption entities JSON object",
    "allowed_updates": "can't parse allowed updates JSON object",
}


@dataclass
class _Fault:
    error: TelegramError
    remaining: int


@dataclass
class _Delay:
    seconds: float
    remaining: int
    process_first: bool


Handler = Callable[[dict[str, Any], dict[str, "UploadedFile"]], Awaitable[Any]]


@dataclass
class UploadedFile:
    """A multipart file part."""

    filename: str
    content: bytes
    content_type: str | None


class FakeBotAPI(BotMethods):
    """A local Telegram Bot API that refuses what Telegram refuses.

    Usage::

        async with FakeBotAPI() as fake:
            bot = Bot(fake.token, session=AiohttpSession(
                api=TelegramAPIServer.from_base(fake.base_url)))
            ana = fake.user(id=1001, first_name="Ana")
            await ana.send_command("/start")
            ...
            await fake.wait_for_messages(ana.id, 1)

    Rate limits (``None`` = off): ``global_rate`` sends per sliding second
    over all chats, ``per_chat_rate`` sends per sliding second to one private
    chat, ``per_group_per_minute`` sends per sliding minute to one group or
    supergroup. They may be changed at any time through the attributes of
    the same names; ``rate_limited_methods`` says which methods count.
    """

    def __init__(
        self,
        token: str = "123:ABC",
        global_rate: int | None = None,
        per_chat_rate: int | None = None,
        per_group_per_minute: int | None = None,
        *,
        bot_username: str = "participa_test_bot",
        bot_first_name: str = "Participa",
        max_poll_timeout: float = 2.0,
        callback_answer_timeout: float = 15.0,
        webhook_timeout: float = 10.0,
        strict_ampersand: bool = True,
        first_update_id: int = 100_000,
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.global_rate = global_rate
        self.per_chat_rate = per_chat_rate
        self.per_group_per_minute = per_group_per_minute
        self.rate_limited_methods: set[str] = set(SEND_METHODS)
        # A long poll is capped so that tests never wait for the 50 s a real
        # poll may last; the bot just polls again.
        self.max_poll_timeout = max_poll_timeout
        # How long a button press can still be answered. Telegram's limit is
        # not documented; the client gives up after about 15 s.
        self.callback_answer_timeout = callback_answer_timeout
        self.webhook_timeout = webhook_timeout
        self.strict_ampersand = strict_ampersand

        self.calls: list[Call] = []
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self.left_chats: set[int] = set()
        self.commands: dict[tuple[str, Any, str], list[dict[str, str]]] = {}
        self.descriptions: dict[str, str] = {}
        self.short_descriptions: dict[str, str] = {}
        self.chat_actions: list[tuple[int, str]] = []
        self.confirmed_update_ids: list[int] = []
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.files: dict[str, tuple[bytes, str | None]] = {}

        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self.webhook_max_connections = 40
        self.allowed_updates: list[str] | None = None
        self._webhook_error: tuple[int, str] | None = None
        self._webhook_slots = asyncio.Semaphore(40)

        self._chats: dict[int, ChatState] = {}
        self._messages: dict[int, list[SentMessage]] = {}
        self._user_messages: dict[tuple[int, int], UserMessage] = {}
        self._users: dict[int, SimUser] = {}
        self._callbacks: dict[str, CallbackRecord] = {}
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = first_update_id
        self._next_query_id = 4_000_000_000_000_000_000
        self._next_file = 1
        self._pollers: list[_Poller] = []
        self._faults: dict[str, deque[_Fault]] = {}
        self._delays: dict[str, deque[_Delay]] = {}
        self._global_window = SlidingWindow(1.0)
        self._chat_windows: dict[int, SlidingWindow] = {}
        self._group_windows: dict[int, SlidingWindow] = {}
        self._clock_skew = 0.0
        self._changed = asyncio.Event()
        self._stopping = False

        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self.port: int | None = None
        self._handlers: dict[str, tuple[str, Handler]] = {
            name.lower(): (name, handler) for name, handler in self._method_table().items()
        }

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        """Server root; aiogram: TelegramAPIServer.from_base(base_url), PTB: base_url + "/bot"."""
        if self.port is None:
            raise RuntimeError("FakeBotAPI is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """The bot's own method prefix: f"{api_url}/sendMessage"."""
        return f"{self.base_url}/bot{self.token}"

    def make_app(self) -> web.Application:
        # Telegram accepts uploads up to 50 MB; aiohttp's default cap is 1 MB.
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        return app

    async def start(self) -> None:
        self._stopping = False
        self._runner = web.AppRunner(self.make_app(), shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        # Bind to a socket we opened ourselves so the free port is known.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        site = web.SockSite(self._runner, sock)
        await site.start()
        self._client = aiohttp.ClientSession()

    async def stop(self) -> None:
        # Wake long polls so the server does not wait for them on shutdown.
        self._stopping = True
        for poller in self._pollers:
            poller.wake.set()
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ clock

    def now(self) -> float:
        """Monotonic clock used for rate windows and callback ages."""
        return time.monotonic() + self._clock_skew

    def unix_now(self) -> int:
        return int(time.time() + self._clock_skew)

    def advance_clock(self, seconds: float) -> None:
        """Move the fake's clock forward: ages button presses, empties rate windows."""
        self._clock_skew += seconds

    # ------------------------------------------------------------------ HTTP plumbing

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._answer(TelegramError(401, "Unauthorized").body(), 401)
        entry = self._handlers.get(request.match_info["method"].lower())
        if entry is None:
            return self._answer(TelegramError(404, "Not Found").body(), 404)
        name, handler = entry
        call = Call(name, {}, time.monotonic())
        self.calls.append(call)
        delay: _Delay | None = None
        try:
            params, files = await self._read_params(request)
            call.params = params
            # Waiters see a call on arrival, not only once it is answered: a
            # long poll or a delayed answer may take seconds.
            self._notify()
            delay = self._pop(self._delays, name)
            if delay is not None and not delay.process_first:
                await asyncio.sleep(delay.seconds)
            fault = self._pop(self._faults, name)
            if fault is not None:
                raise fault.error
            result = await handler(params, files)
            body: dict[str, Any] = {"ok": True, "result": result}
            if isinstance(result, _WithDescription):
                body = {"ok": True, "result": result.result, "description": result.description}
            status = 200
        except TelegramError as error:
            body, status = error.body(), error.error_code
        call.status, call.response = status, body
        self._notify()
        if delay is not None and delay.process_first:
            # The request took effect; only the answer is late (a client
            # timeout here means "sent, but the bot does not know it").
            await asyncio.sleep(delay.seconds)
        return self._answer(body, status)

    @staticmethod
    def _answer(body: dict[str, Any], status: int) -> web.Response:
        return web.json_response(body, status=status)

    @staticmethod
    def _pop(table: dict[str, deque[Any]], name: str) -> Any:
        for key in (name.lower(), "*"):
            queue = table.get(key)
            if queue:
                item = queue[0]
                item.remaining -= 1
                if item.remaining <= 0:
                    queue.popleft()
                return item
        return None

    async def _read_params(
        self, request: web.Request
    ) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
        raw: dict[str, Any] = dict(request.query)
        files: dict[str, UploadedFile] = {}
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError as exc:
                    raise TelegramError(400, "Bad Request: can't parse JSON object") from exc
                if not isinstance(body, dict):
                    raise TelegramError(400, "Bad Request: can't parse JSON object")
                raw.update(body)
            elif request.content_type in (
                "application/x-www-form-urlencoded",
                "multipart/form-data",
            ):
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        files[key] = UploadedFile(
                            value.filename, value.file.read(), value.content_type
                        )
                    elif isinstance(value, bytes | bytearray):
                        raw[key] = bytes(value).decode("utf-8")
                    else:
                        raw[key] = value
        return self._normalize(raw), files

    @staticmethod
    def _normalize(raw: dict[str, Any]) -> dict[str, Any]:
        """Give form values the types a JSON body would have."""
        params: dict[str, Any] = {}
        for key, value in raw.items():
            if key in _JSON_FIELDS and isinstance(value, str):
                try:
                    value = json.loads(value)
                except ValueError as exc:
                    text = _JSON_ERRORS.get(key, f"can't parse {key} JSON object")
                    raise TelegramError(400, f"Bad Request: {text}") from exc
            elif key in _INT_FIELDS and isinstance(value, str):
                with contextlib.suppress(ValueError):
                    value = int(value)
            elif key in _BOOL_FIELDS and isinstance(value, str):
                value = value.lower() in ("true", "1")
            params[key] = value
        return params

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._answer(TelegramError(401, "Unauthorized").body(), 401)
        path = request.match_info["path"]
        for content, name in self.files.values():
            if name is not None and f"documents/{name}" == path:
                return web.Response(body=content)
        return self._answer(TelegramError(404, "Not Found").body(), 404)

    def _notify(self) -> None:
        """Wake everything waiting for a change (wait_for_messages, wait_for)."""
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    # ------------------------------------------------------------------ fault injection

    def fail_next(
        self,
        method: str,
        error_code: int,
        description: str,
        count: int = 1,
        parameters: dict[str, Any] | None = None,
    ) -> None:
        """Answer the next ``count`` calls of ``method`` ("*" = any) with this error.

        The failed calls have no effect. 5xx works too:
        ``fail_next("sendMessage", 502, "Bad Gateway")``.
        """
        error = TelegramError(error_code, description, parameters)
        self._faults.setdefault(method.lower(), deque()).append(_Fault(error, count))

    def delay_next(
        self, method: str, seconds: float, count: int = 1, *, process_first: bool = True
    ) -> None:
        """Hold back the answer to the next ``count`` calls of ``method`` ("*" = any).

        With ``process_first`` (default) the request takes effect at once and
        only the answer is late, so a client timeout leaves a message that was
        sent although the bot saw an error; False delays before processing.
        """
        self._delays.setdefault(method.lower(), deque()).append(
            _Delay(seconds, count, process_first)
        )

    def set_rate_limits(
        self,
        global_rate: int | None = None,
        per_chat_rate: int | None = None,
        per_group_per_minute: int | None = None,
    ) -> None:
        """Replace all three limits (None = off) and forget earlier sends."""
        self.global_rate = global_rate
        self.per_chat_rate = per_chat_rate
        self.per_group_per_minute = per_group_per_minute
        self._global_window = SlidingWindow(1.0)
        self._chat_windows.clear()
        self._group_windows.clear()

    # ------------------------------------------------------------------ chats

    def user(
        self,
        id: int,
        first_name: str = "Test",
        username: str | None = None,
        language_code: str | None = "es",
        last_name: str | None = None,
        *,
        started: bool = False,
    ) -> SimUser:
        """A simulated person with a private chat (chat id = user id).

        The bot cannot write to them ("bot can't initiate conversation with a
        user") until they send something, or ``started=True``.
        """
        chat = self._chats.get(id)
        if chat is None:
            chat = ChatState(
                id=id,
                type="private",
                username=username,
                first_name=first_name,
                last_name=last_name,
            )
            self._chats[id] = chat
        chat.started = chat.started or started
        sim = SimUser(self, id, first_name, username, language_code, last_name)
        self._users[id] = sim
        return sim

    def group(
        self,
        chat_id: int = -100123,
        title: str = "Group",
        is_forum: bool = False,
        username: str | None = None,
        type: Literal["group", "supergroup"] | None = None,
    ) -> SimGroup:
        """A group the bot is a member of.

        ``type`` defaults to "supergroup" for ids starting with -100 (as
        Telegram's supergroup ids do) and for forums, else "group".
        """
        kind: Literal["group", "supergroup"] = type or (
            "supergroup" if str(chat_id).startswith("-100") or is_forum else "group"
        )
        chat = ChatState(id=chat_id, type=kind, title=title, username=username, is_forum=is_forum)
        self._chats[chat_id] = chat
        return SimGroup(self, chat)

    def register_chat(
        self,
        chat_id: int,
        type: Literal["private", "group", "supergroup", "channel"] = "private",
        **fields: Any,
    ) -> ChatState:
        """Make a chat known (and started) without any update."""
        chat = ChatState(id=chat_id, type=type, started=True, **fields)
        self._chats[chat_id] = chat
        return chat

    def chat(self, chat_id: int) -> ChatState:
        return self._chats[chat_id]

    def block(self, chat_id: int, reason: str = "blocked") -> None:
        """Refuse sends to this chat with 403; reason in FORBIDDEN_REASONS."""
        chat = self._chats[chat_id]
        description = FORBIDDEN_REASONS[reason]
        if reason == "kicked" and chat.type == "supergroup":
            description = "Forbidden: bot was kicked from the supergroup chat"
        chat.forbidden = description

    def unblock(self, chat_id: int) -> None:
        self._chats[chat_id].forbidden = None

    def migrate(self, chat_id: int, new_chat_id: int) -> ChatState:
        """Mark a group upgraded to a supergroup (no updates; see SimGroup.migrate)."""
        old = self._chats[chat_id]
        old.migrated_to = new_chat_id
        new = ChatState(id=new_chat_id, type="supergroup", title=old.title, is_forum=old.is_forum)
        self._chats[new_chat_id] = new
        return new

    # ------------------------------------------------------------------ updates

    def set_next_update_id(self, update_id: int) -> None:
        self._next_update_id = update_id

    def new_update(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": self._next_update_id, kind: payload}
        self._next_update_id += 1
        return update

    def enqueue(self, update: dict[str, Any]) -> Sent:
        """Queue an update for getUpdates (also used to queue a duplicate)."""
        kind = next(key for key in update if key != "update_id")
        if not self._is_allowed(kind):
            return Sent(update, "queue", error="dropped: not in allowed_updates")
        self._updates.append(update)
        for poller in self._pollers:
            poller.wake.set()
        self._notify()
        return Sent(update, "queue")

    def _is_allowed(self, kind: str) -> bool:
        if not self.allowed_updates:
            return kind not in _NOT_BY_DEFAULT
        return kind in self.allowed_updates

    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not confirmed yet (polling) or not accepted yet (webhook)."""
        return list(self._updates)

    async def emit(self, update: dict[str, Any]) -> Sent:
        """Queue for getUpdates, or POST to the webhook when one is set."""
        if self.webhook_url:
            return await self.deliver(update)
        return self.enqueue(update)

    async def deliver(self, update: dict[str, Any]) -> Sent:
        """POST an update to the webhook, as Telegram does; returns the outcome.

        Anything but a 2xx leaves the update pending ("would be retried", see
        :meth:`redeliver_pending`). Delivering an update twice is allowed: it
        is how Telegram's retries look to the bot.
        """
        if not self.webhook_url:
            raise RuntimeError("no webhook is set: updates wait for getUpdates (fake.enqueue)")
        if self._client is None:
            raise RuntimeError("FakeBotAPI is not started")
        if not any(u["update_id"] == update["update_id"] for u in self._updates):
            self._updates.append(update)
        headers = {}
        if self.webhook_secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook_secret
        status: int | None = None
        error: str | None = None
        answer, answer_type = b"", ""
        async with self._webhook_slots:
            try:
                async with self._client.post(
                    self.webhook_url,
                    json=update,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
                ) as response:
                    status = response.status
                    answer = await response.read()
                    answer_type = response.content_type
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = f"{type(exc).__name__}: {exc}"
        if status is not None and 200 <= status < 300:
            self._updates = [u for u in self._updates if u["update_id"] != update["update_id"]]
            await self._method_in_webhook_answer(answer, answer_type)
        else:
            message = f"Wrong response from the webhook: {status}" if status else str(error)
            self._webhook_error = (self.unix_now(), message)
        self.webhook_deliveries.append(
            WebhookDelivery(update["update_id"], status, error, time.monotonic())
        )
        self._notify()
        return Sent(update, "webhook", status, error)

    async def _method_in_webhook_answer(self, body: bytes, content_type: str) -> None:
        """Telegram's "reply to the webhook with a method": a JSON answer naming
        a ``method`` is performed as a call of the bot's. Its result is never
        told to the bot, so an error here is only recorded."""
        if content_type != "application/json" or not body:
            return
        try:
            raw = json.loads(body)
        except ValueError:
            return
        if not isinstance(raw, dict) or "method" not in raw:
            return
        entry = self._handlers.get(str(raw.pop("method")).lower())
        if entry is None:
            return
        name, handler = entry
        call = Call(name, {}, time.monotonic(), in_webhook_answer=True)
        self.calls.append(call)
        try:
            call.params = self._normalize(raw)
            fault = self._pop(self._faults, name)
            if fault is not None:
                raise fault.error
            result = await handler(call.params, {})
            call.status, call.response = 200, {"ok": True, "result": result}
        except TelegramError as error:
            call.status, call.response = error.error_code, error.body()
        self._notify()

    async def redeliver_pending(self) -> list[Sent]:
        """Telegram's retry: POST every update not yet accepted, oldest first."""
        return [await self.deliver(update) for update in list(self._updates)]

    # ------------------------------------------------------------------ what the bot did

    def messages(self, chat_id: int, *, include_deleted: bool = False) -> list[SentMessage]:
        """Messages the bot sent to a chat, oldest first (deleted ones left out)."""
        return [m for m in self._messages.get(chat_id, []) if include_deleted or not m.deleted]

    def last_message(self, chat_id: int) -> SentMessage:
        found = self.messages(chat_id)
        if not found:
            raise AssertionError(f"the bot sent no message to chat {chat_id}")
        return found[-1]

    def message(self, chat_id: int, message_id: int) -> SentMessage:
        for sent in self._messages.get(chat_id, []):
            if sent.message_id == message_id:
                return sent
        raise KeyError((chat_id, message_id))

    def all_messages(self) -> list[SentMessage]:
        return sorted(
            (m for msgs in self._messages.values() for m in msgs if not m.deleted),
            key=lambda m: m.sent_at,
        )

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method.lower() == method.lower()]

    def count(self, method: str) -> int:
        """How many times the bot called ``method`` (any outcome)."""
        return len(self.calls_to(method))

    def unanswered_callbacks(self) -> list[CallbackRecord]:
        return [c for c in self._callbacks.values() if not c.answered]

    def assert_all_callbacks_answered(self) -> None:
        missing = self.unanswered_callbacks()
        if missing:
            listed = ", ".join(
                f"{c.query_id} (data={c.data!r}, chat={c.chat_id}, message={c.message_id})"
                for c in missing
            )
            raise AssertionError(f"button presses never answered: {listed}")

    # The waits take a plain ``timeout`` number (ASYNC109): it reads better in tests
    # than wrapping every call in asyncio.timeout, and the failure says what was missing.

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until ``predicate()`` holds; checked after every change, no polling.

        A predicate that raises AssertionError or LookupError (``last_message``
        before any message, say) counts as not holding yet.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not _holds(predicate):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"condition not met within {timeout} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def wait_for_messages(
        self,
        chat_id: int,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[SentMessage]:
        """Wait until the bot has sent ``count`` messages (in total) to the chat."""
        try:
            await self.wait_for(lambda: len(self.messages(chat_id)) >= count, timeout)
        except AssertionError:
            texts = [m.plain_text or m.kind for m in self.messages(chat_id)]
            raise AssertionError(
                f"expected {count} messages in chat {chat_id} within {timeout} s, "
                f"got {len(texts)}: {texts}"
            ) from None
        return self.messages(chat_id)

    async def wait_for_calls(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:  # noqa: ASYNC109
        """Wait until ``method`` was called and answered ``count`` times."""

        def done() -> bool:
            return sum(1 for c in self.calls_to(method) if c.status) >= count

        try:
            await self.wait_for(done, timeout)
        except AssertionError:
            raise AssertionError(
                f"expected {count} {method} calls within {timeout} s, got {self.count(method)}"
            ) from None
        return self.calls_to(method)

    async def wait_for_callback_answer(self, query_id: str, timeout: float = 5.0) -> dict[str, Any]:  # noqa: ASYNC109
        await self.wait_for(lambda: query_id in self.callback_answers, timeout)
        return self.callback_answers[query_id]

    # ------------------------------------------------------------------ helpers for users.py

    def _register_callback(self, record: CallbackRecord) -> None:
        self._callbacks[record.query_id] = record

    def _new_query_id(self) -> str:
        self._next_query_id += 1
        return str(self._next_query_id)

    def _new_file_id(self, prefix: str) -> str:
        self._next_file += 1
        return f"{prefix}{self._next_file:08d}"

    def _all_chats(self) -> Iterable[ChatState]:
        return self._chats.values()


def _holds(predicate: Callable[[], bool]) -> bool:
    try:
        return bool(predicate())
    except (AssertionError, LookupError):
        return False
