"""Operations: Prometheus metrics on /metrics, JSON logs that say which
update and flow without message text, the token or ids, and a bug in a
handler told kindly to the citizen, logged once and announced to the admins
in the moderators' group at most once per ERROR_ALERT_MINUTES."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from bot.logs import configure_logging, user_hash
from storage import models as m
from tests.e2e import TOKEN, Citizen, Rows, prepare_database, sqlite_file_url
from tests.fake_bot_api import FakeBotAPI
from tests.harness import NOW, Person, make_engine
from tests.test_e2e import RunningBot, bot_settings

GROUP = -1001234
HASH_KEY = "a-secret-key-for-the-log-hashes"
COMMENT = "My very private comment about the 012 line"


def break_the_rating_step(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from conversations.flows import opinion

    async def broken(self, data, ctx):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    monkeypatch.setattr(opinion.Rate, "on_button", broken)


# -- the engine: the alert -----------------------------------------------------

async def test_a_bug_alerts_the_admins_once_per_window(sql_backend, monkeypatch, caplog):  # type: ignore[no-untyped-def]
    await sql_backend.add_lab("tu-atencion", "Tu Atención", ["Phone line 012"])
    now = [NOW]
    engine = make_engine(sql_backend, clock=lambda: now[0], moderators_chat_id=GROUP,
                         error_alert_minutes=15)
    people = [Person(engine, id=600 + n) for n in range(3)]
    for person in people:
        await person.consent()
        await person.press("Give my opinion")
        await person.press("Phone line 012")
    break_the_rating_step(monkeypatch)
    caplog.set_level(logging.ERROR, "conversations.engine")

    outcome = await people[0].press("4")
    assert "something went wrong on our side" in outcome.replies[-1].text
    now[0] += timedelta(minutes=5)
    await people[1].press("4")  # within the window: logged, not announced again
    now[0] += timedelta(minutes=15)
    await people[2].press("4")

    assert [r.getMessage() for r in caplog.records] == ["handler failed"] * 3
    assert [(r.flow, r.state, r.error) for r in caplog.records] == \
        [("op", "rate", "RuntimeError")] * 3
    async with sql_backend.sessions() as session:
        alerts = (await session.execute(
            select(m.OutboxMessage.chat_id, m.OutboxMessage.body)
            .where(m.OutboxMessage.dedupe_key.like("error-alert:%"))
            .order_by(m.OutboxMessage.id))).all()
    assert [chat for chat, _ in alerts] == [GROUP, GROUP]
    # In the group's language (Spanish by default), no personal data.
    assert alerts[0].body.startswith("⚠️ <b>Algo ha fallado en el bot</b>: RuntimeError en "
                                     "op.rate.")
    assert "15 minutos" in alerts[0].body
    assert "Phone line" not in alerts[0].body


async def test_without_a_moderators_group_a_bug_is_only_logged(sql_backend, monkeypatch):  # type: ignore[no-untyped-def]
    await sql_backend.add_lab("tu-atencion", "Tu Atención", ["Phone line 012"])
    ana = Person(make_engine(sql_backend))
    await ana.consent()
    await ana.press("Give my opinion")
    await ana.press("Phone line 012")
    break_the_rating_step(monkeypatch)
    outcome = await ana.press("4")
    assert "something went wrong on our side" in outcome.replies[-1].text
    async with sql_backend.sessions() as session:
        assert (await session.execute(select(m.OutboxMessage.id))).all() == []


# -- the running bot: metrics and JSON logs ------------------------------------

@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """LOG_FORMAT=json for this test, written to a buffer; logging restored after."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging("INFO", "json", HASH_KEY)
    buffer = io.StringIO()
    root.handlers[0].setStream(buffer)  # type: ignore[attr-defined]
    yield buffer
    root.handlers[:], level = saved
    root.setLevel(level)


@pytest.fixture
async def database(tmp_path: Path) -> str:
    url = sqlite_file_url(tmp_path)
    await prepare_database(url)
    return url


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(token=TOKEN) as server:
        server.group(GROUP, "Moderators")
        yield server


@pytest.fixture
async def bot(fake, database) -> AsyncIterator[RunningBot]:  # type: ignore[no-untyped-def]
    settings = bot_settings(fake.base_url, database, "webhook").model_copy(
        update={"moderators_chat_id": GROUP})
    running = RunningBot(settings, fake, "webhook")
    await running.start()
    try:
        yield running
    finally:
        if running.task is not None and not running.task.done():
            await running.stop()


async def scrape(bot: RunningBot) -> dict[str, float]:
    async with aiohttp.ClientSession() as http, http.get(f"{bot.ops_url}/metrics") as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("text/plain")
        text = await answer.text()
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


def delta(after: dict[str, float], before: dict[str, float], name: str) -> float:
    return after.get(name, 0.0) - before.get(name, 0.0)


async def test_metrics_count_updates_latency_errors_outbox_and_telegram(  # type: ignore[no-untyped-def]
        bot, fake, monkeypatch):
    ana = Citizen(fake, fake.user(id=5101, first_name="Ana", language_code="en"))
    before = await scrape(bot)  # the figures live as long as the process (other tests ran)
    await ana.consent()
    await ana.press("Give my opinion")
    await ana.press("E-government website")
    break_the_rating_step(monkeypatch)
    await ana.press("4")
    await fake.wait_for(lambda: any("Algo ha fallado" in (msg.plain_text or "")
                                    for msg in fake.messages(GROUP)), 10)
    after = await scrape(bot)

    assert delta(after, before, 'participa_updates_total{kind="command"}') == 1
    assert delta(after, before, 'participa_updates_total{kind="button"}') == 5
    assert delta(after, before, 'participa_handler_seconds_count{kind="button"}') == 5
    assert delta(after, before, 'participa_handler_seconds_bucket{kind="button",le="+Inf"}') == 5
    assert delta(after, before, 'participa_errors_total{reason="handler"}') == 1
    # The alert left through the outbox: one 200 from Telegram, a personal message.
    assert delta(after, before, 'participa_telegram_answers_total{code="200"}') == 1
    assert delta(after, before, 'participa_outbox_sent_total{priority="personal"}') == 1
    assert {after[f'participa_outbox_depth{{priority="{p}"}}']
            for p in ("interactive", "personal", "broadcast")} == {0.0}


async def test_json_logs_name_the_update_and_flow_never_text_token_or_id(  # type: ignore[no-untyped-def]
        json_logs, bot, fake, monkeypatch):
    ana = Citizen(fake, fake.user(id=5202, first_name="Ana", language_code="en"))
    await ana.consent()
    await ana.press("Give my opinion")
    await ana.press("E-government website")
    await ana.press("4")
    await ana.text(COMMENT)
    from conversations.flows import opinion

    async def broken(self, data, ctx):  # type: ignore[no-untyped-def]
        raise RuntimeError(f"boom with {COMMENT}")  # even an exception quoting the text

    monkeypatch.setattr(opinion.Review, "on_button", broken)
    sent = await ana.press("Send")
    logging.getLogger("test").warning("a URL with the token: https://x/bot%s/getMe", TOKEN)

    written = json_logs.getvalue()
    lines = [json.loads(line) for line in written.splitlines()]
    [failure] = [line for line in lines if line["message"] == "handler failed"]
    assert failure["update_id"] == sent.update_id
    assert failure["user"] == user_hash(HASH_KEY.encode(), ana.id)
    assert (failure["flow"], failure["state"], failure["kind"]) == ("op", "review",
                                                                    "button")
    assert failure["level"] == "ERROR" and "RuntimeError" in failure["exception"]
    assert COMMENT not in written
    assert TOKEN not in written and TOKEN.split(":")[1] not in written
    assert not re.search(rf"\b{ana.id}\b", written)
    rows = Rows(bot.settings.database_url)
    try:
        assert await rows.count(m.Opinion) == 0  # nothing half-done was kept
    finally:
        await rows.close()
