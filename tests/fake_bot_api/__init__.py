"""A faithful fake of the Telegram Bot API for tests, plus simulated users.

``from tests.fake_bot_api import FakeBotAPI`` is all a test needs::

    async with FakeBotAPI(per_chat_rate=1) as fake:
        ana = fake.user(id=1001, first_name="Ana", username="ana")
        await ana.send_command("/start")          # queued for getUpdates
        ...                                       # run the bot against fake.base_url
        reply = (await fake.wait_for_messages(ana.id, 1))[-1]
        await ana.press(reply, "Sí")              # callback_query, must be answered
        fake.assert_all_callbacks_answered()

The server refuses what Telegram refuses (see BOT_API_FACTS.md): empty or
too-long text after HTML parsing, broken or unsupported HTML, callback data
over 64 bytes, edits that change nothing, sends over the configured rates,
sends to blocked, migrated or unknown chats, unknown forum topics, late or
repeated callback answers.

Clients: aiogram ``AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url))``;
python-telegram-bot ``base_url=fake.base_url + "/bot"`` and
``base_file_url=fake.base_url + "/file/bot"``.

Modules: ``server`` (HTTP, state, test API), ``methods`` (Bot API methods),
``users`` (simulated users and groups), ``entities`` (HTML parse mode),
``limits`` (sliding windows), ``records`` (dataclasses).
"""

from .entities import HtmlParseError, ParsedText, parse_html
from .records import (
    Call,
    CallbackRecord,
    ChatState,
    Sent,
    SentMessage,
    TelegramError,
    UserMessage,
    WebhookDelivery,
)
from .server import FORBIDDEN_REASONS, SEND_METHODS, FakeBotAPI, UploadedFile
from .users import SimGroup, SimUser

__all__ = [
    "FORBIDDEN_REASONS",
    "SEND_METHODS",
    "Call",
    "CallbackRecord",
    "ChatState",
    "FakeBotAPI",
    "HtmlParseError",
    "ParsedText",
    "Sent",
    "SentMessage",
    "SimGroup",
    "SimUser",
    "TelegramError",
    "UploadedFile",
    "UserMessage",
    "WebhookDelivery",
    "parse_html",
]
