"""A broadcast over HTTP, on both frameworks: a staff member writes it in Telegram
(bold and a link kept), the running bot's outbox sender delivers it to the
citizens who accepted news, each in their language, with its button."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import update

from storage import models as m
from tests import test_e2e
from tests.e2e import Citizen, settle
from tests.fake_bot_api import FakeBotAPI, parse_html
from tests.test_e2e import RunningBot, bot_settings

# test_e2e's fixtures, shared: the fake Bot API, the databases, both frameworks.
database, framework, rows = test_e2e.database, test_e2e.framework, test_e2e.rows

STAFF_ID = 7001


@pytest.fixture
async def staff_bot(fake, database, framework, redis_prefix) -> AsyncIterator[RunningBot]:  # type: ignore[no-untyped-def]
    # With TEST_REDIS_URL the send budgets (the broadcasts' share too) live in Redis.
    settings = bot_settings(fake.base_url, database, "polling", redis_prefix, framework)
    settings = settings.model_copy(update={"admin_ids": [STAFF_ID]})
    running = RunningBot(settings, fake, "polling")
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


async def write_in_telegram(person: Citizen, fake: FakeBotAPI, html: str) -> None:
    """The staff member types a formatted message (Telegram sends its entities)."""
    parsed = parse_html(html)
    sent = await person.user.send_text(parsed.text, entities=parsed.entities)
    await settle(fake, sent)


async def test_a_broadcast_is_delivered_by_the_running_bot(staff_bot, fake, rows):  # type: ignore[no-untyped-def]
    staff = Citizen(fake, fake.user(id=STAFF_ID, first_name="Sara", language_code="en"))
    ana = Citizen(fake, fake.user(id=5101, first_name="Ana", language_code="en"))
    bea = Citizen(fake, fake.user(id=5102, first_name="Bea", language_code="es"))
    dan = Citizen(fake, fake.user(id=5103, first_name="Dan", language_code="en"))
    for person in (staff, ana, bea, dan):
        await person.consent() if person is not bea else await consent_in_spanish(bea)
    async with rows.sessions() as session:
        await session.execute(update(m.NotificationPreferences).values(news=True).where(
            m.NotificationPreferences.citizen_id.in_(
                m.Citizen.__table__.select().with_only_columns(m.Citizen.id).where(
                    m.Citizen.telegram_id.in_([ana.id, bea.id])).scalar_subquery())))
        await session.commit()

    await staff.command("/broadcast")
    await staff.press("News")
    await staff.press("Everyone who asked for it")
    spanish = '<b>Taller</b> el jueves: <a href="https://example.org/taller">apúntate</a>'
    await write_in_telegram(staff, fake, spanish)
    for _ in range(4):  # Català, then English
        if "<b>English</b>" in (staff.screen.text or ""):
            break
        await staff.press("Skip")
    english = "<b>Workshop</b> on <i>Thursday</i>"
    await write_in_telegram(staff, fake, english)
    await staff.press("That's all")
    await staff.press("Give my opinion")
    previews = [msg for msg in staff.messages() if msg.text in (spanish, english)]
    assert [p.text for p in previews] == [spanish, english]
    assert "Recipients: 2 citizens" in (staff.screen.plain_text or "")
    await staff.press("Send to 2 citizens")
    assert "is queued for 2 citizens" in (staff.screen.plain_text or "")

    await fake.wait_for(lambda: any(msg.text == english for msg in ana.messages())
                        and any(msg.text == spanish for msg in bea.messages()), 15)
    [to_ana] = [msg for msg in ana.messages() if msg.text == english]
    [to_bea] = [msg for msg in bea.messages() if msg.text == spanish]
    # Exactly the preview: text, formatting and button.
    assert to_bea.entities == previews[0].entities
    assert to_bea.plain_text == "Taller el jueves: apúntate"
    assert to_ana.button_texts == previews[1].button_texts == ["💬 Give my opinion"]
    assert to_bea.button_texts == ["💬 Dar mi opinión"]
    assert not any(msg.text in (spanish, english) for msg in dan.messages())

    # The citizen's button opens the lab.
    await ana.press("Give my opinion", to_ana)
    assert "Which service do you want to give your opinion on?" in (
        ana.messages()[-1].plain_text or "")

    # Recorded as sent (the fake may answer a moment before the row is committed).
    for _ in range(100):
        queued = [r for r in await rows.all(m.OutboxMessage) if r["broadcast_id"] == 1]
        if all(r["status"] == "sent" for r in queued):
            break
        await asyncio.sleep(0.1)
    assert sorted((r["chat_id"], r["status"], r["priority"]) for r in queued) == [
        (ana.id, "sent", 2), (bea.id, "sent", 2)]


async def consent_in_spanish(person: Citizen) -> None:
    await person.command("/start")
    await person.press("Continuar")
    await person.press("OK")
