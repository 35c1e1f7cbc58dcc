"""The fake Bot API's own tests: it must refuse what Telegram refuses.

Most tests talk HTTP to the fake with aiohttp (JSON or form bodies, as the
clients do); the last group drives it with a real aiogram Bot and Dispatcher
so that aiogram's multipart bodies, its parsing of the fake's objects and
its typed exceptions are proven against the fake.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.filters import CommandStart
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from aiohttp import web

from tests.fake_bot_api import FakeBotAPI, SentMessage, parse_html
from tests.fake_bot_api.entities import HtmlParseError

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
TEXT_BUTTONS = (
    "Bad Request: can't parse inline keyboard button: "
    "Text buttons are unallowed in the inline keyboard"
)
KEYBOARD = {"inline_keyboard": [[{"text": "Sí", "callback_data": "op:yes:1"}]]}


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as server:
        yield server


async def api(
    fake: FakeBotAPI, method: str, *, form: bool = False, **params: Any
) -> tuple[int, dict[str, Any]]:
    """Call the fake over HTTP; ``form`` sends urlencoded with JSON-encoded objects (as PTB)."""
    url = f"{fake.api_url}/{method}"
    async with aiohttp.ClientSession() as session:
        if form:
            data = {
                k: json.dumps(v) if isinstance(v, dict | list | bool) else str(v)
                for k, v in params.items()
            }
            request = session.post(url, data=data)
        else:
            request = session.post(url, json=params)
        async with request as response:
            return response.status, await response.json()


async def ok(fake: FakeBotAPI, method: str, **params: Any) -> Any:
    status, body = await api(fake, method, **params)
    assert (status, body["ok"]) == (200, True), body
    return body["result"]


async def refused(fake: FakeBotAPI, method: str, **params: Any) -> tuple[int, str, Any]:
    status, body = await api(fake, method, **params)
    assert body["ok"] is False, body
    assert body["error_code"] == status
    return status, body["description"], body.get("parameters")


async def started_user(fake: FakeBotAPI, user_id: int = 1001) -> int:
    user = fake.user(id=user_id, first_name="Ana", username="ana")
    await user.send_command("/start")
    return user.id


# ---------------------------------------------------------------------- plumbing


async def test_unknown_token_is_401_and_unknown_method_404(fake: FakeBotAPI) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{fake.base_url}/bot999:nope/getMe") as response:
            assert response.status == 401
            assert await response.json() == {
                "ok": False,
                "error_code": 401,
                "description": "Unauthorized",
            }
    status, description, _ = await refused(fake, "sendTelepathy")
    assert (status, description) == (404, "Not Found")


async def test_method_names_are_case_insensitive_and_get_works(fake: FakeBotAPI) -> None:
    me = await ok(fake, "GETME")
    assert me["is_bot"] is True and me["id"] == 123
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{fake.api_url}/getme") as response:
            assert (await response.json())["result"]["username"] == "participa_test_bot"
    assert fake.count("getMe") == 2


async def test_form_bodies_are_decoded_like_json(fake: FakeBotAPI) -> None:
    chat_id = await started_user(fake)
    status, body = await api(
        fake, "sendMessage", form=True, chat_id=chat_id, text="hola", reply_markup=KEYBOARD
    )
    assert status == 200, body
    assert body["result"]["reply_markup"] == KEYBOARD
    call = fake.calls_to("sendMessage")[-1]
    assert call.params["chat_id"] == chat_id  # coerced to int
    assert fake.last_message(chat_id).buttons == [[("Sí", "op:yes:1")]]


async def test_malformed_json_fields_are_refused(fake: FakeBotAPI) -> None:
    chat_id = await started_user(fake)
    async with aiohttp.ClientSession() as session:
        data = {"chat_id": str(chat_id), "text": "x", "reply_markup": "{not json"}
        async with session.post(f"{fake.api_url}/sendMessage", data=data) as response:
            body = await response.json()
    assert (response.status, body["description"]) == (
        400,
        "Bad Request: can't parse reply keyboard markup JSON object",
    )


# ---------------------------------------------------------------------- chats


async def test_unknown_chat_is_not_found(fake: FakeBotAPI) -> None:
    _, description, _ = await refused(fake, "sendMessage", chat_id=555, text="hi")
    assert description == "Bad Request: chat not found"


async def test_user_who_never_wrote_cannot_be_messaged(fake: FakeBotAPI) -> None:
    user = fake.user(id=1002, first_name="Luis")
    status, description, _ = await refused(fake, "sendMessage", chat_id=user.id, text="hi")
    assert (status, description) == (
        403,
        "Forbidden: bot can't initiate conversation with a user",
    )
    await user.send_text("hola")
    message = await ok(fake, "sendMessage", chat_id=user.id, text="hi")
    assert message["chat"] == {
        "id": 1002,
        "type": "private",
        "first_name": "Luis",
    }
    assert message["from"]["is_bot"] is True


@pytest.mark.parametrize(
    ("reason", "description"),
    [
        ("blocked", "Forbidden: bot was blocked by the user"),
        ("deactivated", "Forbidden: user is deactivated"),
        ("not_started", "Forbidden: bot can't initiate conversation with a user"),
    ],
)
async def test_forbidden_reasons(fake: FakeBotAPI, reason: str, description: str) -> None:
    chat_id = await started_user(fake)
    fake.block(chat_id, reason)
    assert await refused(fake, "sendMessage", chat_id=chat_id, text="x") == (
        403,
        description,
        None,
    )


async def test_block_bot_emits_my_chat_member_and_refuses_sends(fake: FakeBotAPI) -> None:
    user = fake.user(id=1003, first_name="Eva", started=True)
    sent = await user.block_bot()
    member = sent.update["my_chat_member"]
    assert member["new_chat_member"]["status"] == "kicked"
    assert member["old_chat_member"]["status"] == "member"
    _, description, _ = await refused(fake, "sendMessage", chat_id=user.id, text="x")
    assert description == "Forbidden: bot was blocked by the user"
    with pytest.raises(RuntimeError):
        await user.send_text("the client has no text field now")
    await user.unblock_bot()
    await ok(fake, "sendMessage", chat_id=user.id, text="welcome back")


async def test_groups_kicked_migrated_and_topics(fake: FakeBotAPI) -> None:
    owner = fake.user(id=1004, first_name="Mod")
    group = fake.group(chat_id=-4001, title="Mods")
    assert fake.chat(group.id).type == "group"
    added = await group.add_bot(by=owner)
    assert added.update["my_chat_member"]["new_chat_member"]["status"] == "member"
    await owner.send_text("hola grupo", chat=group)
    await ok(fake, "sendMessage", chat_id=group.id, text="hola")

    new_group = await group.migrate(-1001234567890, by=owner)
    assert await refused(fake, "sendMessage", chat_id=group.id, text="x") == (
        400,
        "Bad Request: group chat was upgraded to a supergroup chat",
        {"migrate_to_chat_id": -1001234567890},
    )
    await ok(fake, "sendMessage", chat_id=new_group.id, text="here now")

    forum = fake.group(chat_id=-1009, title="Forum", is_forum=True)
    topic = (await ok(fake, "createForumTopic", chat_id=forum.id, name="Propuestas"))[
        "message_thread_id"
    ]
    sent = await ok(fake, "sendMessage", chat_id=forum.id, text="t", message_thread_id=topic)
    assert sent["message_thread_id"] == topic and sent["is_topic_message"] is True
    forum.delete_topic(topic)
    _, description, _ = await refused(
        fake, "sendMessage", chat_id=forum.id, text="t", message_thread_id=topic
    )
    assert description == "Bad Request: message thread not found"

    await new_group.remove_bot(by=owner)
    assert await refused(fake, "sendMessage", chat_id=new_group.id, text="x") == (
        403,
        "Forbidden: bot was kicked from the supergroup chat",
        None,
    )
    assert await ok(fake, "leaveChat", chat_id=forum.id) is True
    assert fake.left_chats == {forum.id}
    assert (await ok(fake, "getChat", chat_id=forum.id))["title"] == "Forum"


async def test_reply_to_and_chat_action_refusals(fake: FakeBotAPI) -> None:
    chat_id = await started_user(fake)
    _, description, _ = await refused(
        fake, "sendMessage", chat_id=chat_id, text="x", reply_parameters={"message_id": 77}
    )
    assert description == "Bad Request: message to be replied not found"
    await ok(
        fake,
        "sendMessage",
        chat_id=chat_id,
        text="x",
        reply_parameters={"message_id": 77, "allow_sending_without_reply": True},
    )
    replied = await ok(fake, "sendMessage", chat_id=chat_id, text="y", reply_to_message_id=1)
    assert replied["reply_to_message"]["text"] == "/start"
    assert fake.last_message(chat_id).reply_to_message_id == 1
    _, description, _ = await refused(fake, "sendChatAction", chat_id=chat_id, action="dancing")
    assert description == "Bad Request: wrong parameter action in request"
    assert await ok(fake, "sendChatAction", chat_id=chat_id, action="typing") is True
    assert fake.chat_actions == [(chat_id, "typing")]


async def test_message_ids_increment_per_chat(fake: FakeBotAPI) -> None:
    first = await started_user(fake, 1010)  # the /start is message 1 there
    second = await started_user(fake, 1011)
    ids = [(await ok(fake, "sendMessage", chat_id=first, text="a"))["message_id"]]
    ids.append((await ok(fake, "sendMessage", chat_id=first, text="b"))["message_id"])
    ids.append((await ok(fake, "sendMessage", chat_id=second, text="c"))["message_id"])
    assert ids == [2, 3, 2]


# ---------------------------------------------------------------------- text and HTML


async def test_empty_and_blank_text_is_refused(fake: FakeBotAPI) -> None:
    chat_id = await started_user(fake)
    for params in ({}, {"text": ""}, {"text": "  \n "}, {"text": "<b> </b>", "parse_mode": "HTML"}):
        _, description, _ = await refused(fake, "sendMessage", chat_id=chat_id, **params)
        assert description == "Bad Request: message text is empty", params


async def test_length_is_counted_after_html_parsing(fake: FakeBotAPI) -> None:
    chat_id = await started_user(fake)
    await ok(fake, "sendMessage", chat_id=chat_id, text="&lt;" * 4096, parse_mode="HTML")
    assert fake.last_message(chat_id).plain_text == "<" * 4096
    await ok(
        fake, "sendMessage", chat_id=chat_id, text="<b>" + "x" * 4096 + "</b>", parse_mode="HTML"
    )
    for text in ("x" * 4097, "&amp;" * 4097):
        _, description, _ = await refused(
            fake, "sendMessage", chat_id=chat_id, text=text, parse_mode="HTML"
        )
        assert description == "Bad Request: message is too long"


@pytest.mark.parametrize(
    ("html", "error"),
    [
        ("a <br> b", 'Unsupported start tag "br" at byte offset 2'),
        ("<div>x</div>", 'Unsupported start tag "div" at byte offset 0'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("ñ <b", "Unclosed start tag at byte offset 3"),
        ('<span class="big">x</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("Tom & Jerry", "Unescaped"),
        ("&nbsp;", "Unescaped"),
    ],
)
async def test_broken_html_is_refused(fake: FakeBotAPI, html: str, error: str) -> None:
    chat_id = await started_user(fake)
    _, description, _ = await refused(
        fake, "sendMessage", chat_id=chat_id, text=html, parse_mode="HTML"
    )
    assert description.startswith(f"Bad Request: can't parse entities: {error}")


async def test_supported_html_becomes_entities(fake: FakeBotAPI) -> None:
    chat_id = await started_user(fake)
    html = (
        "😀 <b>bold</b> <strong>s</strong> <i>i</i> <em>e</em> <u>u</u> <ins>n</ins> "
        "<s>s</s> <strike>k</strike> <del>d</del> <tg-spoiler>p</tg-spoiler> "
        '<span class="tg-spoiler">q</span> <a href="https://example.org/?a=1&amp;b=2">l</a> '
        '<code>c</code> <pre><code class="language-python">x = 1</code></pre> '
        "<blockquote>q</blockquote> <blockquote expandable>e</blockquote> "
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji> &lt;&gt;&amp;&quot;&#33;&#x21;'
    )
    message = await ok(fake, "sendMessage", chat_id=chat_id, text=html, parse_mode="HTML")
    assert message["text"].endswith('<>&"!!')
    types = [e["type"] for e in message["entities"]]
    assert types == [
        "bold", "bold", "italic", "italic", "underline", "underline", "strikethrough",
        "strikethrough", "strikethrough", "spoiler", "spoiler", "text_link", "code", "pre",
        "blockquote", "expandable_blockquote", "custom_emoji",
    ]  # fmt: skip
    # Offsets are UTF-16: the emoji before "bold" counts twice.
    assert message["entities"][0] == {"type": "bold", "offset": 3, "length": 4}
    link = next(e for e in message["entities"] if e["type"] == "text_link")
    assert link["url"] == "https://example.org/?a=1&b=2"
    pre = next(e for e in message["entities"] if e["type"] == "pre")
    assert pre["language"] == "python"
    assert fake.last_message(chat_id).text == html  # the source is kept for tests


def test_lenient_ampersand_matches_telegram() -> None:
    assert parse_html("Tom & Jerry &nbsp;", strict_ampersand=False).text == "Tom & Jerry &nbsp;"
    with pytest.raises(HtmlParseError):
        parse_html("Tom & Jerry")


async def test_caption_limit(fake: FakeBotAPI) -> None:
    chat_id = await started_user(fake)
    await ok(fake, "sendDocument", chat_id=chat_id, document="BQAfileid", caption="c" * 1024)
    _, description, _ = await refused(
        fake, "sendDocument", chat_id=chat_id, document="BQAfileid", caption="c" * 1025
    )
    assert description == "Bad Request: message caption is too long"
    _, description, _ = await refused(fake, "sendDocument", chat_id=chat_id)
    assert description == "Bad Request: there is no document in the request"


# ---------------------------------------------------------------------- keyboards


@pytest.mark.parametrize(
    ("button", "description"),
    [
        ({"text": "x", "callback_data": "ñ" * 33}, "Bad Request: BUTTON_DATA_INVALID"),
        ({"text": "x", "callback_data": "a" * 65}, "Bad Request: BUTTON_DATA_INVALID"),
        ({"text": "x", "callback_data": ""}, TEXT_BUTTONS),
        ({"text": "x"}, TEXT_BUTTONS),
        ({"text": "", "callback_data": "a"}, TEXT_BUTTONS),
        ({"text": "x", "url": "javascript:alert(1)"}, "Bad Request: BUTTON_URL_INVALID"),
    ],
)
async def test_bad_buttons_are_refused(
    fake: FakeBotAPI, button: dict[str, Any], description: str
) -> None:
    chat_id = await started_user(fake)
    markup = {"inline_keyboard": [[button]]}
    assert await refused(fake, "sendMessage", chat_id=chat_id, text="x", reply_markup=markup) == (
        400,
        description,
        None,
    )


async def test_callback_data_limit_is_in_bytes(fake: FakeBotAPI) -> None:
    chat_id = await started_user(fake)
    markup = {"inline_keyboard": [[{"text": "x", "callback_data": "ñ" * 32}]]}  # 64 bytes
    await ok(fake, "sendMessage", chat_id=chat_id, text="x", reply_markup=markup)


# ---------------------------------------------------------------------- editing


async def test_edits_must_change_something(fake: FakeBotAPI) -> None:
    chat_id = await started_user(fake)
    sent = await ok(fake, "sendMessage", chat_id=chat_id, text="<b>Hola</b>", parse_mode="HTML")
    target = {"chat_id": chat_id, "message_id": sent["message_id"]}
    _, description, _ = await refused(
        fake, "editMessageText", **target, text="<b>Hola</b>", parse_mode="HTML"
    )
    assert description == NOT_MODIFIED
    # Same text but no bold: a different message.
    await ok(fake, "editMessageText", **target, text="Hola")
    await ok(fake, "editMessageText", **target, text="Hola", reply_markup=KEYBOARD)
    _, description, _ = await refused(
        fake, "editMessageReplyMarkup", **target, reply_markup=KEYBOARD
    )
    assert description == NOT_MODIFIED
    # Omitting reply_markup removes the keyboard, so this is a change.
    edited = await ok(fake, "editMessageText", **target, text="Hola")
    assert "reply_markup" not in edited and "edit_date" in edited
    record = fake.message(chat_id, sent["message_id"])
    assert record.edited and record.edit_count == 3 and record.buttons == []
    _, description, _ = await refused(fake, "editMessageReplyMarkup", **target)
    assert description == NOT_MODIFIED


async def test_edit_refusals(fake: FakeBotAPI) -> None:
    chat_id = await started_user(fake)
    _, description, _ = await refused(
        fake, "editMessageText", chat_id=chat_id, message_id=99, text="x"
    )
    assert description == "Bad Request: message to edit not found"
    doc = await ok(fake, "sendDocument", chat_id=chat_id, document="BQAid")
    _, description, _ = await refused(
        fake, "editMessageText", chat_id=chat_id, message_id=doc["message_id"], text="x"
    )
    assert description == "Bad Request: there is no text in the message to edit"
    await ok(fake, "deleteMessage", chat_id=chat_id, message_id=doc["message_id"])
    _, description, _ = await refused(
        fake, "deleteMessage", chat_id=chat_id, message_id=doc["message_id"]
    )
    assert description == "Bad Request: message to delete not found"
    assert fake.messages(chat_id) == []


# ---------------------------------------------------------------------- button presses


async def test_press_answer_and_refusals(fake: FakeBotAPI) -> None:
    chat_id = await started_user(fake)
    user = fake.user(id=chat_id, first_name="Ana")
    await ok(fake, "sendMessage", chat_id=chat_id, text="¿Sí?", reply_markup=KEYBOARD)
    message = fake.last_message(chat_id)
    press = await user.press(message, "Sí")
    query = press.update["callback_query"]
    assert query["data"] == "op:yes:1"
    assert query["message"]["reply_markup"] == KEYBOARD
    assert [c.query_id for c in fake.unanswered_callbacks()] == [query["id"]]
    with pytest.raises(AssertionError, match="never answered"):
        fake.assert_all_callbacks_answered()
    _, description, _ = await refused(
        fake, "answerCallbackQuery", callback_query_id=query["id"], text="x" * 201
    )
    assert description.startswith("Bad Request:")
    await ok(fake, "answerCallbackQuery", callback_query_id=query["id"], text="Hecho")
    fake.assert_all_callbacks_answered()
    assert fake.callback_answers[query["id"]]["text"] == "Hecho"
    # A second answer, an unknown id: both "too old".
    for query_id in (query["id"], "12345"):
        _, description, _ = await refused(fake, "answerCallbackQuery", callback_query_id=query_id)
        assert description == QUERY_TOO_OLD
    with pytest.raises(AssertionError, match="no button"):
        await user.press(message, "No")


async def test_late_answer_is_too_old(fake: FakeBotAPI) -> None:
    user = fake.user(id=1020, first_name="Ana", started=True)
    stale = await user.press_raw("op:yes:999", message_id=42)
    assert stale.update["callback_query"]["message"]["date"] == 0  # inaccessible message
    fake.advance_clock(fake.callback_answer_timeout + 1)
    _, description, _ = await refused(
        fake, "answerCallbackQuery", callback_query_id=stale.update["callback_query"]["id"]
    )
    assert description == QUERY_TOO_OLD
    assert len(fake.unanswered_callbacks()) == 1


# ---------------------------------------------------------------------- getUpdates


async def test_updates_are_redelivered_until_confirmed(fake: FakeBotAPI) -> None:
    fake.set_next_update_id(500)
    user = fake.user(id=1030, first_name="Ana")
    for text in ("uno", "dos", "tres"):
        await user.send_text(text)
    first = await ok(fake, "getUpdates", limit=2)
    assert [u["update_id"] for u in first] == [500, 501]
    again = await ok(fake, "getUpdates")
    assert [u["update_id"] for u in again] == [500, 501, 502]
    rest = await ok(fake, "getUpdates", offset=502)
    assert [u["message"]["text"] for u in rest] == ["tres"]
    assert fake.confirmed_update_ids == [500, 501]
    assert await ok(fake, "getUpdates", offset=503) == []
    info = await ok(fake, "getWebhookInfo")
    assert info == {"url": "", "has_custom_certificate": False, "pending_update_count": 0}


async def test_negative_offset_keeps_the_newest(fake: FakeBotAPI) -> None:
    user = fake.user(id=1033, first_name="Ana")
    for text in ("a", "b", "c"):
        await user.send_text(text)
    updates = await ok(fake, "getUpdates", offset=-1)
    assert [u["message"]["text"] for u in updates] == ["c"]
    with pytest.raises(RuntimeError):
        await fake.deliver(updates[0])  # no webhook: updates wait for getUpdates


async def test_waiting_fails_with_what_arrived(fake: FakeBotAPI) -> None:
    chat_id = await started_user(fake)
    await ok(fake, "sendMessage", chat_id=chat_id, text="only one")
    with pytest.raises(AssertionError, match=r"got 1: \['only one'\]"):
        await fake.wait_for_messages(chat_id, 2, timeout=0.2)


async def test_long_poll_waits_for_an_update(fake: FakeBotAPI) -> None:
    user = fake.user(id=1031, first_name="Ana")
    poll = asyncio.create_task(ok(fake, "getUpdates", timeout=30))
    await asyncio.sleep(0.2)
    assert not poll.done()
    await user.send_text("hola")
    updates = await asyncio.wait_for(poll, 2)
    assert updates[0]["message"]["text"] == "hola"


async def test_long_poll_is_capped(fake: FakeBotAPI) -> None:
    fake.max_poll_timeout = 0.3
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await ok(fake, "getUpdates", timeout=50) == []
    assert 0.25 < loop.time() - started < 2


async def test_second_poller_terminates_the_first(fake: FakeBotAPI) -> None:
    first = asyncio.create_task(api(fake, "getUpdates", timeout=5))
    await asyncio.sleep(0.2)
    second = asyncio.create_task(api(fake, "getUpdates", timeout=0))
    status, body = await asyncio.wait_for(first, 2)
    assert (status, body["description"]) == (
        409,
        "Conflict: terminated by other getUpdates request; "
        "make sure that only one bot instance is running",
    )
    assert (await second)[0] == 200


async def test_allowed_updates_filter_new_updates(fake: FakeBotAPI) -> None:
    user = fake.user(id=1032, first_name="Ana", started=True)
    await ok(fake, "getUpdates", allowed_updates=["callback_query"])
    dropped = await user.send_text("not wanted")
    assert dropped.error and fake.pending_updates() == []


# ---------------------------------------------------------------------- webhook


@dataclass
class Received:
    headers: dict[str, str]
    body: dict[str, Any]


@pytest.fixture
async def webhook_receiver() -> AsyncIterator[tuple[str, list[Received], list[int]]]:
    """A local webhook; answers with the statuses queued in the returned list (then 200)."""
    seen: list[Received] = []
    statuses: list[int] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(Received(dict(request.headers), await request.json()))
        return web.Response(status=statuses.pop(0) if statuses else 200)

    async with local_webhook(handler) as url:
        yield url, seen, statuses


@contextlib.asynccontextmanager
async def local_webhook(handler: Any) -> AsyncIterator[str]:
    """A webhook server on 127.0.0.1 answering with ``handler``; yields its URL."""
    app = web.Application()
    app.router.add_post("/hook", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    finally:
        await runner.cleanup()


async def test_set_webhook_validation(fake: FakeBotAPI) -> None:
    _, description, _ = await refused(fake, "setWebhook", url="http://example.org/hook")
    assert description == "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
    _, description, _ = await refused(fake, "setWebhook", url="https://example.org:8080/hook")
    assert description.startswith("Bad Request: bad webhook: Webhook can be set up only on ports")
    for secret in ("with space", "x" * 257, "ñ"):
        status, _, _ = await refused(
            fake, "setWebhook", url="https://example.org/hook", secret_token=secret
        )
        assert status == 400
    status, body = await api(
        fake, "setWebhook", url="https://example.org:8443/hook", secret_token="a-Z_9" * 51
    )
    assert (status, body["description"]) == (200, "Webhook was set")
    assert (await ok(fake, "getWebhookInfo"))["max_connections"] == 40


async def test_webhook_delivery_and_retry(
    fake: FakeBotAPI, webhook_receiver: tuple[str, list[Received], list[int]]
) -> None:
    url, seen, statuses = webhook_receiver
    user = fake.user(id=1040, first_name="Ana")
    queued = await user.send_text("before the webhook")
    assert queued.mode == "queue"
    await ok(fake, "setWebhook", url=url, secret_token="s3cret", drop_pending_updates=True)
    status, description, _ = await refused(fake, "getUpdates")
    assert (status, description) == (
        409,
        "Conflict: can't use getUpdates method while webhook is active; "
        "use deleteWebhook to delete the webhook first",
    )
    statuses.append(500)
    failed = await user.send_text("hola")
    assert (failed.mode, failed.status, failed.ok) == ("webhook", 500, False)
    assert seen[-1].headers["X-Telegram-Bot-Api-Secret-Token"] == "s3cret"
    assert seen[-1].body["message"]["text"] == "hola"
    info = await ok(fake, "getWebhookInfo")
    assert info["pending_update_count"] == 1
    assert info["last_error_message"] == "Wrong response from the webhook: 500"
    retried = await fake.redeliver_pending()
    assert [r.status for r in retried] == [200]
    assert seen[-1].body["update_id"] == failed.update_id  # same update, again
    assert (await ok(fake, "getWebhookInfo"))["pending_update_count"] == 0
    status, body = await api(fake, "deleteWebhook")
    assert body["description"] == "Webhook was deleted"
    assert (await user.send_text("polling again")).mode == "queue"


async def test_a_method_in_the_webhook_answer_is_performed(fake: FakeBotAPI) -> None:
    """Telegram performs a method the webhook answers with (its result never
    reaches the bot): here answerCallbackQuery, and a refused sendMessage that
    is only recorded."""
    answers: list[dict[str, Any]] = []

    async def handler(request: web.Request) -> web.Response:
        update = await request.json()
        if answers:
            method = answers.pop(0)
            if "callback_query" in update:
                method["callback_query_id"] = update["callback_query"]["id"]
            return web.json_response(method)
        return web.Response(text="ok")

    async with local_webhook(handler) as url:
        chat_id = await started_user(fake, 1042)
        sent = await ok(fake, "sendMessage", chat_id=chat_id, text="Pick",
                        reply_markup={"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]})
        await ok(fake, "setWebhook", url=url)
        answers.append({"method": "answerCallbackQuery", "text": "Done"})
        pressed = await fake.user(id=1042).press(sent["message_id"], "A")
        assert pressed.ok
        assert fake.unanswered_callbacks() == []
        [answer] = fake.calls_to("answerCallbackQuery")
        assert answer.params["text"] == "Done" and answer.status == 200
        assert answer.in_webhook_answer
        answers.append({"method": "sendMessage", "chat_id": chat_id, "text": ""})
        delivered = await fake.user(id=1042).send_text("hola")
        assert delivered.ok  # the update was accepted all the same
        refused_send = fake.calls_to("sendMessage")[-1]
        assert (refused_send.status, refused_send.response["description"]) == (
            400, "Bad Request: message text is empty")


async def test_webhook_unreachable_keeps_update_pending(fake: FakeBotAPI) -> None:
    fake.webhook_timeout = 1
    await ok(fake, "setWebhook", url="http://127.0.0.1:9/hook")
    sent = await fake.user(id=1041, first_name="Ana").send_text("hola")
    assert sent.status is None and sent.error and not sent.ok
    assert len(fake.pending_updates()) == 1


# ---------------------------------------------------------------------- rate limits


async def test_per_chat_rate_is_a_sliding_second(fake: FakeBotAPI) -> None:
    chat_id = await started_user(fake)
    fake.per_chat_rate = 1
    await ok(fake, "sendMessage", chat_id=chat_id, text="1")
    assert await refused(fake, "sendMessage", chat_id=chat_id, text="2") == (
        429,
        "Too Many Requests: retry after 1",
        {"retry_after": 1},
    )
    # Edits are not counted by default; answers and actions never are.
    first = fake.last_message(chat_id).message_id
    await ok(fake, "editMessageText", chat_id=chat_id, message_id=first, text="1b")
    other = await started_user(fake, 1051)
    await ok(fake, "sendMessage", chat_id=other, text="another chat is fine")
    fake.advance_clock(1.0)
    await ok(fake, "sendMessage", chat_id=chat_id, text="2")
    assert [m.plain_text for m in fake.messages(chat_id)] == ["1b", "2"]


async def test_global_rate(fake: FakeBotAPI) -> None:
    fake.set_rate_limits(global_rate=3)
    chats = [await started_user(fake, 1060 + n) for n in range(4)]
    for chat_id in chats[:3]:
        await ok(fake, "sendMessage", chat_id=chat_id, text="news")
    assert await refused(fake, "sendMessage", chat_id=chats[3], text="news") == (
        429,
        "Too Many Requests: retry after 1",
        {"retry_after": 1},
    )
    fake.advance_clock(1.01)
    await ok(fake, "sendMessage", chat_id=chats[3], text="news")


async def test_group_rate_per_minute(fake: FakeBotAPI) -> None:
    group = fake.group(chat_id=-1007, title="Mods")
    fake.per_group_per_minute = 20
    for n in range(20):
        await ok(fake, "sendMessage", chat_id=group.id, text=str(n))
    status, _, parameters = await refused(fake, "sendMessage", chat_id=group.id, text="x")
    assert status == 429 and 55 <= parameters["retry_after"] <= 60
    fake.advance_clock(61)
    await ok(fake, "sendMessage", chat_id=group.id, text="x")


# ---------------------------------------------------------------------- fault injection


async def test_fail_next_and_delay_next(fake: FakeBotAPI) -> None:
    chat_id = await started_user(fake)
    fake.fail_next("sendMessage", 502, "Bad Gateway")
    assert (await refused(fake, "sendMessage", chat_id=chat_id, text="x"))[:2] == (
        502,
        "Bad Gateway",
    )
    assert fake.messages(chat_id) == []  # the failed call had no effect
    fake.fail_next("*", 429, "Too Many Requests: retry after 7", parameters={"retry_after": 7})
    assert (await refused(fake, "getMe"))[2] == {"retry_after": 7}
    await ok(fake, "sendMessage", chat_id=chat_id, text="x")

    fake.delay_next("sendMessage", 1.0)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(TimeoutError):
            async with session.post(
                f"{fake.api_url}/sendMessage",
                json={"chat_id": chat_id, "text": "late"},
                timeout=aiohttp.ClientTimeout(total=0.2),
            ):
                pass
    # The message went out although the client saw a timeout.
    assert fake.last_message(chat_id).plain_text == "late"


# ---------------------------------------------------------------------- files, copies


async def test_multipart_upload_and_file_id_reuse(fake: FakeBotAPI) -> None:
    chat_id = await started_user(fake)
    form = aiohttp.FormData()
    form.add_field("chat_id", str(chat_id))
    form.add_field("caption", "<b>Informe</b>")
    form.add_field("parse_mode", "HTML")
    form.add_field("reply_markup", json.dumps(KEYBOARD))
    form.add_field("document", b"a,b\n1,2\n", filename="informe.csv", content_type="text/csv")
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{fake.api_url}/sendDocument", data=form) as response:
            body = await response.json()
    assert body["ok"], body
    document = body["result"]["document"]
    assert document["file_name"] == "informe.csv" and document["file_size"] == 8
    assert body["result"]["caption"] == "Informe"
    record = fake.last_message(chat_id)
    assert (record.kind, record.document_name, record.document_bytes) == (
        "document",
        "informe.csv",
        b"a,b\n1,2\n",
    )
    assert record.buttons == [[("Sí", "op:yes:1")]]
    again = await ok(fake, "sendDocument", chat_id=chat_id, document=document["file_id"])
    assert fake.message(chat_id, again["message_id"]).document_bytes == b"a,b\n1,2\n"
    photo = await ok(fake, "sendPhoto", chat_id=chat_id, photo="AgACfileid", caption="foto")
    assert photo["photo"][0]["file_id"] == "AgACfileid"


async def test_copy_forward_and_user_media(fake: FakeBotAPI) -> None:
    citizen = fake.user(id=1070, first_name="Ana")
    moderator = fake.user(id=1071, first_name="Mod", started=True)
    voice = (await citizen.send_voice(duration=7)).update["message"]
    copied = await ok(
        fake,
        "copyMessage",
        chat_id=moderator.id,
        from_chat_id=citizen.id,
        message_id=voice["message_id"],
    )
    record = fake.message(moderator.id, copied["message_id"])
    assert record.kind == "copy" and record.media["voice"]["duration"] == 7
    assert record.copied_from == (citizen.id, voice["message_id"])
    _, description, _ = await refused(
        fake, "copyMessage", chat_id=moderator.id, from_chat_id=citizen.id, message_id=999
    )
    assert description == "Bad Request: message to copy not found"
    forwarded = await ok(
        fake,
        "forwardMessage",
        chat_id=moderator.id,
        from_chat_id=citizen.id,
        message_id=voice["message_id"],
    )
    assert forwarded["forward_origin"]["sender_user"]["id"] == citizen.id
    doc = (await citizen.send_document("a.pdf", b"%PDF")).update["message"]["document"]
    file = await ok(fake, "getFile", file_id=doc["file_id"])
    async with aiohttp.ClientSession() as session:
        url = f"{fake.base_url}/file/bot{fake.token}/{file['file_path']}"
        async with session.get(url) as response:
            assert await response.read() == b"%PDF"


async def test_every_update_kind_parses_in_aiogram(fake: FakeBotAPI) -> None:
    user = fake.user(id=1080, first_name="Ana", username="ana", language_code="eu")
    group = fake.group(chat_id=-1008, title="Lab", is_forum=True)
    topic = group.create_topic("Movilidad")
    sent = [
        await user.send_text("hola"),
        await user.send_command("/start", "ws_42"),
        await user.open_deep_link("prop-7"),
        await user.send_sticker(),
        await user.send_photo(caption="foto"),
        await user.send_voice(),
        await user.send_location(),
        await user.send_contact(),
        await user.send_document(),
        await user.send_text("en grupo", chat=group, thread_id=topic),
        await user.send_command("/help", chat=group, mention=True),
        await group.add_bot(by=user, status="administrator"),
        await user.press_raw("forged:data"),
        await user.block_bot(),
    ]
    sent.append(await user.unblock_bot())
    sent.append(await user.edit_message(sent[0].update["message"]["message_id"], "hola!"))
    await ok(fake, "sendMessage", chat_id=user.id, text="x", reply_markup=KEYBOARD)
    sent.append(await user.press(fake.last_message(user.id), "op:yes:1"))
    for item in sent:
        update = Update.model_validate(item.update, context={"bot": None})
        assert update.event_type != "unknown", item.update
    command = sent[1].update["message"]
    assert command["text"] == "/start ws_42"
    assert command["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert sent[-2].update["edited_message"]["text"] == "hola!"
    with pytest.raises(ValueError):
        await user.open_deep_link("no spaces allowed")


# ---------------------------------------------------------------------- commands, descriptions


async def test_commands_are_validated_and_stored_per_scope(fake: FakeBotAPI) -> None:
    group = fake.group(chat_id=-1001, title="Mods")
    commands = [{"command": "start", "description": "Empezar"}]
    await ok(fake, "setMyCommands", commands=commands)
    await ok(fake, "setMyCommands", commands=commands, language_code="eu")
    mods = [{"command": "pending", "description": "Pendientes"}]
    scope = {"type": "chat", "chat_id": group.id}
    await ok(fake, "setMyCommands", commands=mods, scope=scope)
    assert fake.commands[("default", None, "")] == commands
    assert fake.commands[("default", None, "eu")] == commands
    assert fake.commands[("chat", group.id, "")] == mods
    assert await ok(fake, "getMyCommands", scope=scope) == mods
    await ok(fake, "deleteMyCommands", language_code="eu")
    assert ("default", None, "eu") not in fake.commands
    bad = [
        [{"command": "Start", "description": "x"}],
        [{"command": "a" * 33, "description": "x"}],
        [{"command": "ok", "description": ""}],
        [{"command": "ok", "description": "d" * 257}],
        [{"command": f"c{n}", "description": "x"} for n in range(101)],
    ]
    for value in bad:
        status, _, _ = await refused(fake, "setMyCommands", commands=value)
        assert status == 400, value
    await ok(fake, "setMyCommands", commands=[{"command": "a" * 32, "description": "d" * 256}])


async def test_a_private_chats_menu_is_its_own_per_language(fake: FakeBotAPI) -> None:
    """What per-person menus rely on: BotCommandScopeChat keys on the chat and the
    language, deleting one leaves the others, and an unknown chat is refused."""
    ana, bea = fake.user(id=71), fake.user(id=72)
    await ana.send_text("hola")
    await bea.send_text("hola")
    staff = [{"command": "inbox", "description": "Tickets"}]
    for user in (ana, bea):
        for language in ("", "es"):
            await ok(fake, "setMyCommands", commands=staff, language_code=language,
                     scope={"type": "chat", "chat_id": user.id})
    await ok(fake, "deleteMyCommands", scope={"type": "chat", "chat_id": ana.id},
             language_code="es")
    assert await ok(fake, "getMyCommands", scope={"type": "chat", "chat_id": ana.id},
                    language_code="es") == []
    assert await ok(fake, "getMyCommands", scope={"type": "chat", "chat_id": ana.id}) == staff
    assert await ok(fake, "getMyCommands", scope={"type": "chat", "chat_id": bea.id},
                    language_code="es") == staff
    assert await ok(fake, "getMyCommands") == []  # the default scope is untouched
    status, description, _ = await refused(fake, "setMyCommands", commands=staff,
                                      scope={"type": "chat", "chat_id": 999})
    assert (status, description) == (400, "Bad Request: chat not found")


async def test_descriptions_per_language(fake: FakeBotAPI) -> None:
    await ok(fake, "setMyDescription", description="Participa", language_code="es")
    await ok(fake, "setMyShortDescription", short_description="Opina")
    assert fake.descriptions == {"es": "Participa"}
    assert fake.short_descriptions == {"": "Opina"}
    assert await ok(fake, "getMyDescription", language_code="es") == {"description": "Participa"}
    assert await ok(fake, "getMyShortDescription") == {"short_description": "Opina"}
    status, _, _ = await refused(fake, "setMyShortDescription", short_description="x" * 121)
    assert status == 400


# ---------------------------------------------------------------------- with a real aiogram Bot


def aiogram_bot(fake: FakeBotAPI) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url))
    return Bot(fake.token, session=session)


async def test_aiogram_requests_parse_and_errors_map(fake: FakeBotAPI) -> None:
    chat_id = await started_user(fake)
    bot = aiogram_bot(fake)
    try:
        me = await bot.get_me()
        assert me.username == "participa_test_bot"
        markup = InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="Sí", callback_data="op:yes:1")]]
        )
        message = await bot.send_message(
            chat_id, "<b>Hola</b> &amp; adiós", parse_mode="HTML", reply_markup=markup
        )
        assert message.text == "Hola & adiós" and message.entities[0].type == "bold"
        assert message.reply_markup is not None
        assert message.reply_markup.inline_keyboard[0][0].callback_data == "op:yes:1"
        record = fake.last_message(chat_id)
        assert (record.text, record.buttons) == ("<b>Hola</b> &amp; adiós", [[("Sí", "op:yes:1")]])

        document = await bot.send_document(
            chat_id, BufferedInputFile(b"col\n1\n", filename="export.csv"), caption="Export"
        )
        assert document.document.file_name == "export.csv"
        assert fake.last_message(chat_id).document_bytes == b"col\n1\n"

        with pytest.raises(TelegramBadRequest, match="can't parse entities"):
            await bot.send_message(chat_id, "<br>", parse_mode="HTML")
        with pytest.raises(TelegramBadRequest, match="message is not modified"):
            await bot.edit_message_text(
                "<b>Hola</b> &amp; adiós",
                chat_id=chat_id,
                message_id=message.message_id,
                parse_mode="HTML",
                reply_markup=markup,
            )
        fake.per_chat_rate = 1
        with pytest.raises(TelegramRetryAfter) as retry:
            await bot.send_message(chat_id, "too fast")
        assert retry.value.retry_after == 1
        fake.per_chat_rate = None

        fake.block(chat_id, "blocked")
        with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
            await bot.send_message(chat_id, "x")

        group = fake.group(chat_id=-4002, title="Old")
        fake.migrate(group.id, -1004002)
        with pytest.raises(TelegramMigrateToChat) as migrated:
            await bot.send_message(group.id, "x")
        assert migrated.value.migrate_to_chat_id == -1004002

        fake.fail_next("getMe", 500, "Internal Server Error")
        with pytest.raises(TelegramServerError):
            await bot.get_me()

        await bot.set_webhook("https://example.org/hook", secret_token="abc")
        with pytest.raises(TelegramConflictError, match="webhook is active"):
            await bot.get_updates()
        await bot.delete_webhook()
        # Nested JSON fields in form bodies: commands and scope.
        await bot.set_my_commands(
            [{"command": "start", "description": "Empezar"}], language_code="es"
        )
        assert fake.commands[("default", None, "es")][0]["command"] == "start"
        assert fake.calls_to("sendDocument")[0].params["caption"] == "Export"
    finally:
        await bot.session.close()


async def test_aiogram_dispatcher_round_trip(fake: FakeBotAPI) -> None:
    """A real polling loop: /start -> keyboard, press -> answer + edit."""
    fake.max_poll_timeout = 0.5
    bot = aiogram_bot(fake)
    dp = Dispatcher()

    @dp.message(CommandStart())
    async def start(message: Message) -> None:
        await message.answer(
            "¿Participas?",
            reply_markup=InlineKeyboardMarkup(
                inline_keyboard=[[InlineKeyboardButton(text="Sí", callback_data="join:yes")]]
            ),
        )

    @dp.callback_query(F.data == "join:yes")
    async def joined(query: CallbackQuery) -> None:
        await query.answer("¡Gracias!")
        assert isinstance(query.message, Message)
        await query.message.edit_text("Apuntada")

    polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False))
    try:
        ana = fake.user(id=1090, first_name="Ana")
        await ana.send_command("/start")
        [question] = await fake.wait_for_messages(ana.id, 1)
        assert question.buttons == [[("Sí", "join:yes")]]
        press = await ana.press(question, "Sí")
        answer = await fake.wait_for_callback_answer(press.update["callback_query"]["id"])
        assert answer["text"] == "¡Gracias!"
        await fake.wait_for(lambda: fake.last_message(ana.id).edited)
        assert isinstance(fake.last_message(ana.id), SentMessage)
        assert fake.last_message(ana.id).plain_text == "Apuntada"
        fake.assert_all_callbacks_answered()
        # aiogram confirms what it handled on its next getUpdates.
        await fake.wait_for(lambda: not fake.pending_updates())
    finally:
        await dp.stop_polling()
        await asyncio.wait_for(polling, 5)
