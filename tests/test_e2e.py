"""The whole path over HTTP: the fake Bot API → aiogram or PTB → engine → database → back.

The bot runs in-process with ``run_bot``, exactly as ``participa run`` starts
it, on each framework (BOT_FRAMEWORK=aiogram and ptb), once by long polling
and once behind its webhook server (the fake POSTs updates with the secret
header). Each test checks what a citizen would see
(texts, buttons, edits, button answers) and the rows stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.app import run_bot
from bot.config import Settings, load_settings
from conversations.i18n import available_languages
from storage import models as m
from tests import services
from tests.e2e import (
    SECRET,
    TOKEN,
    Citizen,
    Rows,
    free_port,
    prepare_database,
    settle,
    sqlite_file_url,
)
from tests.fake_bot_api import FakeBotAPI

MODES = ["polling", "webhook"]
FRAMEWORKS = ["aiogram", "ptb"]
DATABASES = ["sqlite"] + (["postgresql"] if services.postgres_server_url() else [])


class RunningBot:
    """``run_bot`` as a task, with the stop event a SIGTERM would set."""

    def __init__(self, settings: Settings, fake: FakeBotAPI, mode: str) -> None:
        self.settings = settings
        self.fake = fake
        self.mode = mode
        self.stop_event = asyncio.Event()
        self.serving = asyncio.Event()  # run_bot's on_serving (participa run: gc_tuning)
        self.task: asyncio.Task[None] | None = None

    @property
    def ops_url(self) -> str:
        return f"http://{self.settings.ops_listen}"

    async def start(self) -> None:
        self.task = asyncio.create_task(run_bot(self.settings, stop=self.stop_event,
                                                on_serving=self.serving.set))
        # Ready when it takes updates: polling at its first getUpdates, the
        # webhook once it told Telegram where to POST.
        ready = (lambda: self.fake.count("getUpdates") > 0) if self.mode == "polling" \
            else (lambda: self.fake.webhook_url is not None)
        waiting = asyncio.create_task(self.fake.wait_for(ready, 10))
        await asyncio.wait([self.task, waiting], return_when=asyncio.FIRST_COMPLETED)
        if self.task.done():
            waiting.cancel()
            await self.task  # raises what stopped it
            raise AssertionError("the bot stopped during start-up")
        await waiting

    async def stop(self) -> None:
        self.stop_event.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, 15)


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=FRAMEWORKS)
def framework(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=DATABASES)
async def database(request, tmp_path) -> AsyncIterator[str]:  # type: ignore[no-untyped-def]
    """A file SQLite database, or a throwaway PostgreSQL one with TEST_DATABASE_URL;
    migrated and loaded with the demo lab, as an operator would."""
    if request.param == "sqlite":
        url = sqlite_file_url(tmp_path)
        await prepare_database(url)
        yield url
        return
    server = services.postgres_server_url()
    assert server is not None
    throwaway = services.throwaway_postgres(server)
    # Creating and dropping a database runs its own event loop: in a thread.
    url = await asyncio.to_thread(throwaway.__enter__)
    try:
        await prepare_database(url)
        yield url
    finally:
        await asyncio.to_thread(throwaway.__exit__, None, None, None)


@pytest.fixture
async def rows(database: str) -> AsyncIterator[Rows]:
    reader = Rows(database)
    yield reader
    await reader.close()


def bot_settings(api_base: str, database: str, mode: str,
                 redis: tuple[str, str] | None = None, framework: str = "aiogram") -> Settings:
    """Everything said explicitly, so that nothing in the environment or a .env
    file (a WEBHOOK_URL, a REDIS_URL) changes what is tested."""
    overrides: dict[str, Any] = {"webhook_url": None, "redis_url": None,
                                 "moderators_chat_id": None, "admin_ids": []}
    if mode == "webhook":
        port = free_port()
        overrides.update(webhook_url=f"http://127.0.0.1:{port}/tg",
                         webhook_listen=f"127.0.0.1:{port}", webhook_secret=SECRET)
    if redis is not None:
        overrides.update(redis_url=redis[0], redis_prefix=redis[1])
    return load_settings(bot_token=TOKEN, bot_framework=framework,
                         telegram_api_base=api_base, database_url=database,
                         ops_listen=f"127.0.0.1:{free_port()}", default_locale="es",
                         throttle_per_minute=60, _env_file=None, **overrides)


@pytest.fixture
async def unstarted(fake, database, mode, redis_prefix, framework) -> AsyncIterator[RunningBot]:  # type: ignore[no-untyped-def]
    """The bot configured for this test, not started yet (the test may queue updates)."""
    running = RunningBot(bot_settings(fake.base_url, database, mode, redis_prefix, framework),
                         fake, mode)
    try:
        yield running
    finally:
        if running.task is not None and not running.task.done():
            await running.stop()


@pytest.fixture
async def bot(unstarted: RunningBot) -> RunningBot:
    await unstarted.start()
    return unstarted


@pytest.fixture
def ana(fake: FakeBotAPI) -> Citizen:
    return Citizen(fake, fake.user(id=5001, first_name="Ana", username="ana",
                                   language_code="en"))


# -- the journey ---------------------------------------------------------------


async def test_a_citizen_gives_an_opinion_from_start_to_thanks(bot, fake, ana, rows, mode):  # type: ignore[no-untyped-def]
    assert bot.serving.is_set()  # start-up over: what exists now lives on
    await ana.command("/start")
    [welcome] = ana.messages()
    assert "Hello! This is the participation channel" in welcome.plain_text
    assert welcome.button_texts == ["Español", "Català", "English ✓", "Euskara", "Galego",
                                    "Português", "Continue ➡️"]

    await ana.press("Continue")
    assert "Your privacy" in welcome.plain_text and welcome.edit_count == 1
    assert welcome.button_texts == ["✅ OK", "No thanks", "⬅️ Back"]

    await ana.press("OK")
    assert welcome.plain_text.startswith("Thank you! You can start now.")
    assert "What would you like to do?" in welcome.plain_text
    assert welcome.button_texts[0] == "💬 Give my opinion"

    await ana.press("Give my opinion")
    # One lab is open (the demo): the lab step is skipped.
    assert "Which service do you want to give your opinion on?" in welcome.plain_text
    assert "Your Service: how do you want to be served?" in welcome.plain_text
    assert "E-government website" in welcome.button_texts
    assert "012 information phone line" in welcome.button_texts

    await ana.press("E-government website")
    assert "How would you rate E-government website?" in welcome.plain_text
    assert welcome.button_texts[:5] == ["1", "2", "3", "4", "5"]
    await ana.press("4")
    assert "Why? Tell us in a message (up to 2,000 characters)" in welcome.plain_text
    assert len(ana.messages()) == 1  # every press so far edited the same message

    comment = "The form lost my <b>& data</i> and I had to start again"
    await ana.text(comment)
    summary = ana.messages()[-1]
    assert summary is not welcome and summary.parse_mode == "HTML"
    # Escaped in the HTML sent, shown exactly as typed.
    assert "&lt;b&gt;&amp; data&lt;/i&gt; and I had" in summary.text
    assert comment in summary.plain_text
    assert "★★★★☆ (4 of 5)" in summary.plain_text
    assert "Service: E-government website" in summary.plain_text
    assert await rows.count(m.Opinion) == 0  # nothing stored before Send

    sent = await ana.press("Send")
    assert ana.answer_to(sent).get("text") == "Sent. Thank you!"
    assert summary.edit_count == 1 and len(ana.messages()) == 2
    assert "Your opinion is saved with the reference OP-000001" in summary.plain_text
    assert summary.button_texts == ["Another service", "Main menu"]

    [opinion] = await rows.opinions()
    citizen = await rows.citizen(ana.id)
    assert citizen is not None and citizen["language"] == "en" and not citizen["blocked_bot"]
    assert (opinion["rating"], opinion["comment"], opinion["channel"], opinion["citizen_id"]) \
        == (4, comment, "telegram", citizen["id"])
    [service] = [s for s in await rows.all(m.Service) if s["id"] == opinion["service_id"]]
    assert service["slug"] == "sede-electronica"
    assert [c["purpose"] for c in await rows.all(m.Consent)] == ["privacy"]

    fake.assert_all_callbacks_answered()
    # Behind a webhook, presses are answered in the webhook's HTTP answer.
    answers = fake.calls_to("answerCallbackQuery")
    assert len(answers) == 6  # one per press
    assert all(a.in_webhook_answer == (mode == "webhook") for a in answers)
    # Presses were answered by editing: two messages in all, everything else edits.
    assert fake.count("sendMessage") == 2
    assert fake.count("editMessageText") == 6  # one per press
    assert all(c.status == 200 for c in fake.calls if c.method != "getUpdates")


async def test_bad_input_is_answered_and_nothing_is_stored(bot, fake, ana, rows):  # type: ignore[no-untyped-def]
    await ana.consent()
    await ana.press("Give my opinion")
    await ana.press("012 information phone line")
    await ana.press("3")
    before = len(ana.messages())

    await ana.handled(lambda: ana.user.send_sticker())
    assert "I can take a text message, a voice note or a photo here" in \
        ana.messages()[-1].plain_text

    await ana.text("x" * 5000)
    assert "Your message has 5,000 characters and the limit is 2,000" in \
        ana.messages()[-1].plain_text

    await ana.command("/frobnicate")
    assert "I don't know the command /frobnicate" in ana.messages()[-1].plain_text

    typed = await ana.text("first words")
    assert "Your opinion" in ana.messages()[-1].plain_text
    await ana.handled(lambda: ana.user.edit_message(typed.message["message_id"], "changed"))
    assert "I don't take changes to messages already sent" in ana.messages()[-1].plain_text

    current = ana.screen
    for forged in ["op:send:@1", "op:send:@99999", "nonsense", "zz:top:1", "x" * 64]:
        sent = await ana.handled(lambda d=forged: ana.user.press_raw(d, current.message_id))
        assert ana.answer_to(sent).get("text") == "This button has expired.", forged
    # A press on a message the bot cannot see any more (inaccessible message).
    sent = await ana.handled(lambda: ana.user.press_raw("op:send:@5"))
    assert ana.answer_to(sent).get("text") == "This button has expired."

    assert len(ana.messages()) > before + 5  # everything got an answer
    fake.assert_all_callbacks_answered()
    assert await rows.count(m.Opinion) == 0
    # Each expired press showed the current step again, as a new message: the
    # older summary's buttons have expired too, the newest one works.
    assert ana.screen is not current
    sent = await ana.press("Send", current)
    assert ana.answer_to(sent).get("text") == "This button has expired."
    assert await rows.count(m.Opinion) == 0
    await ana.press("Send")
    assert len(await rows.opinions()) == 1


async def test_a_group_gets_one_line_and_the_bot_leaves(bot, fake, ana, rows):  # type: ignore[no-untyped-def]
    group = fake.group(-100777, title="Vecinos")
    await settle(fake, await group.add_bot(by=ana.user))
    [line] = fake.messages(group.id)
    assert line.plain_text == ("I only talk in private chats. Write to me directly to take "
                               "part. Goodbye!")
    assert group.id in fake.left_chats
    to_group = [c.method for c in fake.calls if c.params.get("chat_id") == group.id]
    assert to_group == ["sendMessage", "leaveChat"]  # the line first, then it leaves
    assert await rows.count(m.Citizen) == 0 and await rows.count(m.ConversationState) == 0


async def test_a_citizen_who_blocked_the_bot_is_marked(bot, fake, ana, rows):  # type: ignore[no-untyped-def]
    await ana.consent()
    assert not (await rows.citizen(ana.id))["blocked_bot"]
    fake.block(ana.id)  # the reply to the next press will get 403
    sent = await ana.press("Give my opinion")
    assert fake.calls_to("editMessageText")[-1].status == 403
    assert ana.answer_to(sent) is not None  # the press itself was still answered
    citizen = await rows.citizen(ana.id)
    assert citizen["blocked_bot"] and citizen["blocked_at"] is not None
    fake.assert_all_callbacks_answered()


# -- start-up ------------------------------------------------------------------


async def test_start_up_publishes_commands_and_descriptions(bot, fake):  # type: ignore[no-untyped-def]
    scopes = {key[2]: [c["command"] for c in commands] for key, commands in fake.commands.items()}
    every = {"", *available_languages()}  # a catalog added to locale/ joins by itself
    assert {"es", "ca", "en", "eu", "gl", "pt"} < every
    assert set(scopes) == every
    assert all(names == ["start", "menu", "help", "language", "myworkshops", "notifications",
                         "privacy", "mydata", "deleteme", "cancel"]
               for names in scopes.values())
    english = {c["command"]: c["description"] for c in fake.commands[("default", None, "en")]}
    spanish = {c["command"]: c["description"] for c in fake.commands[("default", None, "es")]}
    assert english["start"] == "Start or start again"
    assert spanish["start"] != english["start"]
    assert fake.commands[("default", None, "")] == fake.commands[("default", None, "es")]
    galician = {c["command"]: c["description"] for c in fake.commands[("default", None, "gl")]}
    assert galician["start"] == "Comezar ou volver comezar"
    assert set(fake.descriptions) == set(fake.short_descriptions) == every
    assert fake.short_descriptions["en"] == "Your opinion improves public services."
    assert fake.descriptions[""] == fake.descriptions["es"] != fake.descriptions["en"]


@pytest.mark.parametrize("mode", ["polling"])
async def test_polling_keeps_updates_sent_while_the_bot_was_down(unstarted, fake, ana):  # type: ignore[no-untyped-def]
    waiting = await ana.user.send_command("/start")  # before the bot runs
    await unstarted.start()
    await settle(fake, waiting)
    assert "Hello!" in ana.messages()[0].plain_text
    assert fake.count("deleteWebhook") == 1
    assert not any(c.params.get("drop_pending_updates") for c in fake.calls)
    assert fake.count("setWebhook") == 0
    assert all(c.params.get("allowed_updates") == ["message", "edited_message", "callback_query",
                                                   "my_chat_member"]
               for c in fake.calls_to("getUpdates"))


@pytest.mark.parametrize("mode", ["polling"])
async def test_telegram_unreachable_at_start_is_waited_out(unstarted, fake, ana):  # type: ignore[no-untyped-def]
    fake.fail_next("deleteWebhook", 502, "Bad Gateway", count=2)
    waiting = await ana.user.send_command("/start")
    await unstarted.start()
    await settle(fake, waiting)
    assert fake.count("deleteWebhook") == 3
    assert "Hello!" in ana.messages()[0].plain_text


@pytest.mark.parametrize("mode", ["webhook"])
async def test_webhook_mode_sets_the_webhook_with_its_secret(unstarted, fake, ana):  # type: ignore[no-untyped-def]
    waiting = await ana.user.send_command("/start")  # queued while no webhook is set
    await unstarted.start()
    [call] = fake.calls_to("setWebhook")
    assert call.params["url"] == unstarted.settings.webhook_url
    assert call.params["secret_token"] == SECRET == fake.webhook_secret
    assert not any(c.params.get("drop_pending_updates") for c in fake.calls)
    assert fake.count("deleteWebhook") == 0 and fake.count("getUpdates") == 0
    # Telegram then delivers what was pending: it was not dropped.
    assert [u["update_id"] for u in fake.pending_updates()] == [waiting.update_id]
    [delivered] = await fake.redeliver_pending()
    await settle(fake, delivered)
    assert "Hello!" in ana.messages()[0].plain_text


async def test_a_token_telegram_refuses_stops_the_bot_with_the_reason(  # type: ignore[no-untyped-def]
        database, mode, framework):
    """Never a quiet exit with status 0, which a supervisor would not restart;
    and the token itself is not in the reason (PTB's own message has it)."""
    async with FakeBotAPI(token="999999:" + "R" * 30) as other:
        settings = bot_settings(other.base_url, database, mode, framework=framework)
        with pytest.raises(Exception, match="Unauthorized") as raised:
            await asyncio.wait_for(run_bot(settings), 10)
    assert "RRRRRRRRRR" not in str(raised.value)


# -- confirmation ----------------------------------------------------------------


@pytest.mark.parametrize("mode", ["polling"])
async def test_polling_confirms_an_update_only_after_it_was_handled(bot, fake, ana, rows):  # type: ignore[no-untyped-def]
    await ana.consent()
    await ana.to_summary()
    summary = ana.screen
    # The thanks (an edit of the summary) is held back one second by "Telegram".
    fake.delay_next("editMessageText", 1.0, process_first=False)
    edits = fake.count("editMessageText")
    sent = await ana.user.press(summary, "✅ Send")
    await fake.wait_for(lambda: fake.count("editMessageText") == edits + 1)
    edit = fake.calls_to("editMessageText")[-1]
    # The reply is on its way: the opinion is already committed, the update
    # is not confirmed yet (a crash now would have it delivered again).
    assert len(await rows.opinions()) == 1 and await rows.seen(sent.update_id)
    await asyncio.sleep(0.5)
    assert sent.update_id not in fake.confirmed_update_ids
    assert sent.update_id in [u["update_id"] for u in fake.pending_updates()]

    await settle(fake, sent)
    assert "OP-000001" in summary.plain_text
    confirming = next(c for c in fake.calls_to("getUpdates")
                      if (c.params.get("offset") or 0) > sent.update_id)
    assert confirming.time >= edit.time + 0.9  # only after the edit's answer came back


def _update_by_hand(fake: FakeBotAPI, user_id: int, text: str) -> dict[str, Any]:
    """A /start update as Telegram would POST it, built without the fake's users."""
    fake.chat(user_id).started = True
    return fake.new_update("message", {
        "message_id": 77, "date": fake.unix_now(), "text": text,
        "from": {"id": user_id, "is_bot": False, "first_name": "Ana", "language_code": "en"},
        "chat": {"id": user_id, "type": "private", "first_name": "Ana"},
        "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}],
    })


@pytest.mark.parametrize("mode", ["webhook"])
async def test_the_webhook_refuses_requests_without_the_secret_and_bad_bodies(  # type: ignore[no-untyped-def]
        bot, fake, ana, rows):
    update = _update_by_hand(fake, ana.id, "/start")
    url = bot.settings.webhook_url
    header = "X-Telegram-Bot-Api-Secret-Token"
    async with aiohttp.ClientSession() as client:
        async def post(headers: dict[str, str], **body: Any) -> int:
            async with client.post(url, headers=headers, **body) as response:
                return response.status

        assert await post({}, json=update) == 401
        assert await post({header: "wrong-secret"}, json=update) == 401
        assert await post({header: SECRET + "x"}, json=update) == 401
        assert await post({header: SECRET, "Content-Type": "application/json"},
                          data=b"{not json") == 400
        assert await post({header: SECRET}, json={"update_id": "seven"}) == 400
        assert await post({header: SECRET}, json=[update]) == 400
        # None of those was handled: no reply, nothing stored, not even "seen".
        assert ana.messages() == []
        assert not await rows.seen(update["update_id"])
        assert await rows.count(m.ConversationState) == 0

        assert await post({header: SECRET}, json=update) == 200
    assert "Hello!" in ana.messages()[0].plain_text
    assert await rows.seen(update["update_id"])


# -- operations -------------------------------------------------------------------


async def test_the_ops_listener_answers_health_and_readiness(bot):  # type: ignore[no-untyped-def]
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{bot.ops_url}/healthz") as response:
            assert response.status == 200
            assert await response.json() == {"status": "alive"}
        async with client.get(f"{bot.ops_url}/readyz") as response:
            assert response.status == 200
            body = await response.json()
    assert body["ready"] is True and body["checks"]["database"] == "ok"
    if bot.settings.redis_url:
        assert body["checks"]["redis"] == "ok"


# -- redelivery and shutdown -------------------------------------------------------


async def _redeliver(fake: FakeBotAPI, sent: Any) -> None:
    """Telegram hands the same update again (a webhook retry, an unconfirmed poll)."""
    if sent.mode == "webhook":
        await settle(fake, await fake.deliver(sent.update))
    else:
        fake.enqueue(sent.update)
        await settle(fake, sent, times=2)


async def test_an_update_delivered_twice_is_handled_once(bot, fake, ana, rows):  # type: ignore[no-untyped-def]
    await ana.consent()
    await ana.press("Give my opinion")
    await ana.press("E-government website")
    await ana.press("4")
    comment = await ana.text("Only once")
    sends = fake.count("sendMessage")
    state = await rows.state(ana.id)
    await _redeliver(fake, comment)
    assert fake.count("sendMessage") == sends  # the summary was not sent again
    assert await rows.state(ana.id) == state

    summary = ana.screen
    sent = await ana.press("Send")
    await _redeliver(fake, sent)
    assert len(await rows.opinions()) == 1
    assert summary.edit_count == 1 and "OP-000001" in summary.plain_text
    assert [msg.plain_text for msg in ana.messages()].count(summary.plain_text) == 1
    assert len([c for c in fake.calls_to("editMessageText") if c.status == 200]) == 6
    fake.assert_all_callbacks_answered()


async def test_stopping_finishes_the_update_in_hand(bot, fake, ana, rows):  # type: ignore[no-untyped-def]
    await ana.consent()
    await ana.to_summary()
    summary = ana.screen
    fake.delay_next("editMessageText", 1.0, process_first=False)
    edits = fake.count("editMessageText")
    # Webhook: the POST only returns when the bot answered it, so press in a task.
    pressing = asyncio.create_task(ana.user.press(summary, "✅ Send"))
    await fake.wait_for(lambda: fake.count("editMessageText") == edits + 1)
    bot.stop_event.set()  # what SIGTERM does, while the thanks is still on its way
    await asyncio.wait_for(bot.task, 10)
    sent = await pressing

    assert "OP-000001" in summary.plain_text  # the reply went out
    assert len(await rows.opinions()) == 1
    if sent.mode == "webhook":
        assert sent.status == 200 and fake.pending_updates() == []
    else:
        assert sent.update_id in fake.confirmed_update_ids
    fake.assert_all_callbacks_answered()


# -- workshops -------------------------------------------------------------------


async def test_a_citizen_signs_up_for_a_workshop_and_gets_the_calendar_and_qr(  # type: ignore[no-untyped-def]
        bot, fake, ana, rows):
    await ana.consent()
    await ana.press("Workshops")
    listing = ana.screen
    # The demo's nearly full workshop: 10 of its 12 seats are given.
    assert "2 of 12 seats left" in listing.plain_text
    assert "Online: https://meet.example.org/participa-sede-electronica" in listing.plain_text
    await ana.press("Workshop: let's redesign appointment…")
    await ana.press("Sign up")
    assert "Workshop registration" in ana.screen.plain_text
    await ana.press("I agree")
    assert "How do you usually book an appointment?" in ana.screen.plain_text
    await ana.press("Online")
    assert "This answer is kept apart" in ana.screen.plain_text
    await ana.press("Skip")
    assert "You're in!" in ana.screen.plain_text
    [document] = [m for m in ana.messages() if m.kind == "document"]
    [photo] = [m for m in ana.messages() if m.kind == "photo"]
    assert document.document_name == "taller-cita-previa.ics"
    assert document.document_bytes is not None
    calendar = document.document_bytes.decode()
    assert "BEGIN:VEVENT" in calendar and "DTSTART:" in calendar and "Z\r\n" in calendar
    assert photo.photo_bytes is not None and photo.photo_bytes.startswith(b"\x89PNG")
    assert "check-in code" in (photo.plain_caption or "")
    assert fake.count("getMe") >= 1  # the bot's @username, for the link in the QR code
    [registration] = await rows.all(m.Registration)
    assert registration["status"] == "confirmed"
    [answer] = await rows.all(m.RegistrationAnswer)
    assert answer["answer"] == "Por internet"
    assert await rows.count(m.SensitiveAnswer) == 0


@pytest.mark.parametrize("mode", ["polling"])
async def test_staff_scan_a_check_in_code_and_a_citizen_cannot(  # type: ignore[no-untyped-def]
        fake, database, mode, framework, ana, rows):
    settings = bot_settings(fake.base_url, database, mode, framework=framework)
    staff = Citizen(fake, fake.user(id=5009, first_name="Sara", language_code="en"))
    running = RunningBot(settings.model_copy(update={"admin_ids": [staff.id]}), fake, mode)
    await running.start()
    try:
        await ana.consent()
        await ana.press("Workshops")
        await ana.press("Online workshop")
        await ana.press("Sign up")
        await ana.press("I agree")
        [registration] = await rows.all(m.Registration)
        code = f"checkin-{registration['checkin_token']}"
        await ana.command("/start", code)
        assert "This code is for the staff" in ana.messages()[-1].plain_text
        await staff.consent()
        await staff.command("/start", code)
        assert "Ana @ana is checked in at Online workshop" in staff.messages()[-1].plain_text
        [registration] = await rows.all(m.Registration)
        assert registration["status"] == "attended"
    finally:
        await running.stop()
