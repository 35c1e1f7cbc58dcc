"""PtbTransport against the fake Bot API, held to what AiogramTransport does.

Each Telegram answer to a queued message must become the same Delivery
outcome on both frameworks (the sender acts on nothing else); what PTB does
its own way (RetryAfter as int or timedelta, updates built without checks)
is tested directly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from telegram.error import InvalidToken, RetryAfter

from bot.aiogram_transport import AiogramTransport
from bot.ptb_transport import PtbTransport, retry_after_seconds
from bot.transport import Delivery
from conversations.vocabulary import Answer, Chat, Document, Edit, Event, Photo, Send, Who
from storage.outbox import OutboxRow
from tests.e2e import TOKEN
from tests.fake_bot_api import FakeBotAPI

CHAT = 4242


def row(**fields: Any) -> OutboxRow:
    values: dict[str, Any] = {
        "id": 1, "chat_id": CHAT, "thread_id": None, "citizen_id": None, "kind": "text",
        "body": "hola <b>vecina</b>", "buttons": [[["OK", "ok:1"]]],
        "copy_from_chat_id": None, "copy_message_id": None, "priority": 1, "attempts": 0,
        "on_sent": None}
    values.update(fields)
    return OutboxRow(**values)


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(token=TOKEN) as server:
        server.user(id=CHAT, first_name="Vecina", started=True)
        yield server


@pytest.fixture(params=["aiogram", "ptb"])
async def transport(request, fake):  # type: ignore[no-untyped-def]
    kind = AiogramTransport if request.param == "aiogram" else PtbTransport
    made = kind(TOKEN, fake.base_url, request_timeout=5.0)
    yield made
    await made.close()


async def test_a_queued_message_is_sent_with_its_buttons(transport, fake):  # type: ignore[no-untyped-def]
    delivery = await transport.send_queued(row())
    assert delivery.outcome == "sent" and delivery.message_id is not None
    [message] = fake.messages(CHAT)
    assert message.plain_text == "hola vecina" and message.button_texts == ["OK"]


# (status, description, parameters) → the Delivery expected on both frameworks.
ANSWERS = [
    (429, "Too Many Requests: retry after 7", {"retry_after": 7},
     {"outcome": "retry", "retry_after": 7.0}),
    (400, "Bad Request: group chat was upgraded to a supergroup chat",
     {"migrate_to_chat_id": -1001234}, {"outcome": "moved", "new_chat_id": -1001234}),
    (403, "Forbidden: bot was blocked by the user", None, {"outcome": "blocked"}),
    (400, "Bad Request: chat not found", None, {"outcome": "failed"}),
    (502, "Bad Gateway", None, {"outcome": "retry", "retry_after": None}),
    (500, "Internal Server Error", None, {"outcome": "retry", "retry_after": None}),
    (409, "Conflict: something", None, {"outcome": "failed"}),
    (413, "Request Entity Too Large", None, {"outcome": "retry"}),  # aiogram: a network error
    (422, "Unprocessable Entity", None, {"outcome": "failed"}),
]


@pytest.mark.parametrize(("status", "description", "parameters", "expected"), ANSWERS,
                         ids=[str(a[0]) + "-" + a[3]["outcome"] for a in ANSWERS])
async def test_telegram_answers_map_to_the_same_outcome(  # type: ignore[no-untyped-def]
        transport, fake, status, description, parameters, expected):
    fake.fail_next("sendMessage", status, description, parameters=parameters)
    delivery: Delivery = await transport.send_queued(row())
    for name, value in expected.items():
        assert getattr(delivery, name) == value, (transport.name, name, delivery)
    if delivery.outcome != "sent":
        assert delivery.error
    assert fake.messages(CHAT) == []


async def test_a_refused_token_is_raised_not_mapped(fake):  # type: ignore[no-untyped-def]
    transport = PtbTransport("999999:" + "R" * 30, fake.base_url, request_timeout=5.0)
    try:
        with pytest.raises(InvalidToken) as raised:
            await transport.send_queued(row())
        assert transport.is_fatal(raised.value)
        assert "RRRR" not in str(raised.value)  # PTB's own message would name the token
    finally:
        await transport.close()


def test_retry_after_is_read_as_int_or_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PTB_TIMEDELTA", raising=False)
    assert retry_after_seconds(RetryAfter(12)) == 12.0
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    assert retry_after_seconds(RetryAfter(timedelta(seconds=3.5))) == 3.5


async def test_what_is_not_an_update_is_refused() -> None:
    transport = PtbTransport(TOKEN, "http://127.0.0.1:9", request_timeout=1.0)
    try:
        for raw in [{"update_id": "seven"}, [{"update_id": 1}], {}, {"update_id": True},
                    {"update_id": 3, "message": {"message_id": 1}}]:
            with pytest.raises((ValueError, TypeError)):
                transport.parse_update(raw)  # type: ignore[arg-type]
        update = transport.parse_update({"update_id": 4, "my_chat_member": {
            "chat": {"id": -5, "type": "group", "title": "Vecinos"},
            "from": {"id": 7, "is_bot": False, "first_name": "Ana"}, "date": 0,
            "old_chat_member": {"status": "left", "user": {"id": 1, "is_bot": True,
                                                           "first_name": "Bot"}},
            "new_chat_member": {"status": "member", "user": {"id": 1, "is_bot": True,
                                                             "first_name": "Bot"}}}})
        event = transport.to_event(update)
        assert event is not None and event.kind == "member"
        assert type(event.chat.type) is str and event.chat.type == "group"
        assert type(event.member_status) is str and event.member_status == "member"
    finally:
        await transport.close()


# -- interactive replies: the same handled answers on both frameworks ------------


def event(**fields: Any) -> Event:
    values: dict[str, Any] = {"update_id": 1, "chat": Chat(CHAT), "user": Who(CHAT),
                              "kind": "button", "callback_id": None, "message_id": None}
    values.update(fields)
    return Event(**values)


async def test_edits_fall_back_to_sends_and_unchanged_edits_are_fine(transport, fake):  # type: ignore[no-untyped-def]
    first = await transport.send_queued(row(body="one", buttons=None))
    await transport.deliver(event(message_id=first.message_id), [Edit("one")])  # not modified
    assert fake.count("sendMessage") == 1
    await transport.deliver(event(message_id=first.message_id), [Edit("two")])
    assert [m.plain_text for m in fake.messages(CHAT)] == ["two"]
    await transport.deliver(event(message_id=999_999), [Edit("three")])  # not found: a send
    assert [m.plain_text for m in fake.messages(CHAT)] == ["two", "three"]
    assert fake.calls_to("editMessageText")[-1].status == 400


async def test_a_press_answered_too_late_still_gets_its_replies(transport, fake):  # type: ignore[no-untyped-def]
    fake.fail_next("answerCallbackQuery", 400, "Bad Request: query is too old and response "
                   "timeout expired or query ID is invalid")
    await transport.deliver(event(callback_id="77"), [Answer("ok"), Send("after")])
    assert [m.plain_text for m in fake.messages(CHAT)] == ["after"]


async def test_files_go_out_and_a_blocked_chat_is_reported(fake):  # type: ignore[no-untyped-def]
    blocked: list[int] = []

    async def on_blocked(user_id: int) -> None:
        blocked.append(user_id)

    transport = PtbTransport(TOKEN, fake.base_url, on_blocked=on_blocked, request_timeout=5.0)
    try:
        await transport.deliver(event(kind="text"), [
            Document("informe.csv", b"a;b\n1;2\n", caption="<b>Informe</b>"),
            Photo(b"\x89PNG\r\n\x1a\nfake", caption="foto")])
        assert [c.status for c in fake.calls_to("sendDocument")] == [200]
        assert [c.status for c in fake.calls_to("sendPhoto")] == [200]
        fake.block(CHAT)
        await transport.deliver(event(kind="text"), [Send("hola"), Send("no llega")])
        assert blocked == [CHAT] and fake.count("sendMessage") == 1  # stopped at the 403
    finally:
        await transport.close()


def pressed(message: dict[str, Any]) -> dict[str, Any]:
    return {"update_id": 9, "callback_query": {
        "id": "501", "from": {"id": CHAT, "is_bot": False, "first_name": "Vecina",
                              "language_code": "eu"},
        "chat_instance": "x", "data": "op:svc:3@4", "message": message}}


KEYBOARD_MESSAGE = {
    "message_id": 77, "date": 1_700_000_000, "message_thread_id": 12, "is_topic_message": True,
    "chat": {"id": -100_500, "type": "supergroup", "title": "Moderación", "is_forum": True},
    "from": {"id": 1, "is_bot": True, "first_name": "Participa"},
    "text": "Elige un servicio", "entities": [{"type": "bold", "offset": 0, "length": 5}],
    "reply_markup": {"inline_keyboard": [[{"text": f"S{n}", "callback_data": f"op:svc:{n}@4"}]
                                         for n in range(6)]}}


async def test_a_press_is_the_same_event_on_both_frameworks(transport) -> None:  # type: ignore[no-untyped-def]
    """The pressed message's keyboard is left out of aiogram's parse; what the
    engine needs of the press (chat, topic, message, data, person) is all there,
    and a message Telegram no longer shows (date 0) is a press all the same."""
    event = transport.to_event(transport.parse_update(pressed(KEYBOARD_MESSAGE)))
    assert (event.kind, event.data, event.callback_id, event.message_id) == (
        "button", "op:svc:3@4", "501", 77)
    assert (event.chat.id, event.chat.type, event.chat.thread_id) == (
        -100_500, "supergroup", 12)
    assert (event.user.id, event.user.language) == (CHAT, "eu")
    gone = transport.to_event(transport.parse_update(pressed(
        {"message_id": 78, "date": 0, "chat": {"id": CHAT, "type": "private"}})))
    assert (gone.kind, gone.message_id, gone.chat.id) == ("button", 78, CHAT)
    for broken in [{"update_id": 5, "callback_query": {"id": "1", "message": "x"}},
                   {"update_id": 5, "callback_query": "x"}]:
        with pytest.raises((ValueError, TypeError)):
            transport.parse_update(broken)


async def test_a_reply_that_times_out_is_retried_as_a_network_error(fake) -> None:  # type: ignore[no-untyped-def]
    """A send whose answer never comes is a transient failure on both
    frameworks: the outbox retries it (at-least-once, as the README says)."""
    for kind in (AiogramTransport, PtbTransport):
        transport = kind(TOKEN, fake.base_url, request_timeout=0.3)
        try:
            fake.delay_next("sendMessage", 2.0)
            delivery = await transport.send_queued(row())
            assert delivery.outcome == "retry" and delivery.error, (kind.name, delivery)
        finally:
            await transport.close()
