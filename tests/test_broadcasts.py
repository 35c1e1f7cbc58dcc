"""/broadcast and /broadcasts through the engine, on SQLite and PostgreSQL.

Staff write news or a workshop invitation once per language, see each as
citizens will, and queue it for exactly the citizens who asked for that
kind of message; /broadcasts shows the figures and pauses, resumes or
cancels. Deliveries are outbox rows at broadcast priority.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.sender import OutboxSender
from bot.transport import Delivery
from conversations.vocabulary import Send
from storage import models as m
from storage.broadcasts import NewBroadcast, Rendered, enqueue
from storage.outbox import NewNotification, OutboxStore
from storage.send_limits import Grant, LocalSendLimiter, Priority
from storage.sql import SqlUnitOfWork
from tests.harness import NOW, Person, make_engine

STAFF_ID = 700_001
UNKNOWN = "I don't know the command /{name}."


@pytest.fixture
async def town(sql_backend):  # type: ignore[no-untyped-def]
    """A lab, a staff member and citizens with every kind of preference."""
    await sql_backend.add_lab("tu-atencion", "Tu Atención", ["Phone line 012"])
    engine = make_engine(sql_backend, admin_ids=frozenset({STAFF_ID}))
    people = {
        "ana": ("en", {"news": True}),
        "bea": ("es", {"news": True}),
        "eki": ("eu", {"news": True}),  # no Basque message: gets the Spanish one
        "dan": ("en", {}),  # accepted nothing
        "eve": ("en", {"news": True, "blocked": True}),  # blocked the bot
        "fay": ("en", {"workshop_invitations": True}),
    }
    citizens = {}
    for n, (name, (language, prefs)) in enumerate(people.items()):
        person = Person(engine, id=600_001 + n, language="en", username=name)
        await person.consent()
        citizens[name] = person
        async with sql_backend.sessions() as session:
            citizen_id = (await session.execute(select(m.Citizen.id).where(
                m.Citizen.telegram_id == person.id))).scalar_one()
            await session.execute(update(m.NotificationPreferences).where(
                m.NotificationPreferences.citizen_id == citizen_id).values(
                news=prefs.get("news", False),
                workshop_invitations=prefs.get("workshop_invitations", False)))
            await session.execute(update(m.Citizen).where(m.Citizen.id == citizen_id)
                                  .values(language=language))
            if prefs.get("blocked"):
                await session.execute(update(m.Citizen).where(m.Citizen.id == citizen_id)
                                      .values(blocked_bot=True))
            await session.commit()
    staff = Person(engine, id=STAFF_ID, language="en", username="staff")
    await staff.consent()
    return sql_backend, staff, citizens


async def outbox(backend, **where) -> list[m.OutboxMessage]:  # type: ignore[no-untyped-def]
    async with backend.sessions() as session:
        query = select(m.OutboxMessage).order_by(m.OutboxMessage.chat_id)
        for column, value in where.items():
            query = query.where(getattr(m.OutboxMessage, column) == value)
        return list((await session.execute(query)).scalars().all())


async def write_news(staff: Person, *, spanish: str = "<b>Hola</b> vecinos",
                     english: str | None = "<b>Hello</b> <i>neighbours</i>") -> None:
    """/broadcast → News → everyone, the Spanish and English messages."""
    await staff.command("/broadcast")
    await staff.press("News")
    await staff.press("Everyone who asked for it")
    assert "Send the message in <b>Español</b> (required)" in staff.shown
    await staff.text("Hola vecinos", html=spanish)
    assert "Send the message in <b>Català</b>" in staff.shown
    await staff.press("Skip")
    assert "Send the message in <b>English</b>" in staff.shown
    if english is not None:
        await staff.text("Hello neighbours", html=english)
    await staff.press("That's all")
    assert "Add a button under the message?" in staff.shown


async def test_citizens_and_moderators_cannot_broadcast(town):  # type: ignore[no-untyped-def]
    backend, _, citizens = town
    ana = citizens["ana"]
    for name in ("broadcast", "broadcasts"):
        await ana.command(f"/{name}")
        assert UNKNOWN.format(name=name) in ana.last_texts()[-1]
    async with backend.sessions() as session:
        citizen_id = (await session.execute(select(m.Citizen.id).where(
            m.Citizen.telegram_id == ana.id))).scalar_one()
        session.add(m.Role(citizen_id=citizen_id, role="moderator", granted_at=NOW))
        await session.commit()
    await ana.command("/broadcast")
    assert UNKNOWN.format(name="broadcast") in ana.last_texts()[-1]
    await ana.command("/help")
    assert "/broadcast" not in ana.last_texts()[-1]


async def test_a_staff_role_row_opens_the_wizard(town):  # type: ignore[no-untyped-def]
    backend, _, citizens = town
    bea = citizens["bea"]
    async with backend.sessions() as session:
        citizen_id = (await session.execute(select(m.Citizen.id).where(
            m.Citizen.telegram_id == bea.id))).scalar_one()
        session.add(m.Role(citizen_id=citizen_id, role="staff", granted_at=NOW))
        await session.commit()
    await bea.command("/help")
    assert "/broadcast — Enviar noticias" in bea.last_texts()[-1]
    await bea.command("/broadcast")
    assert "Nueva difusión" in bea.shown


async def test_an_audience_with_nothing_to_pick_says_so(sql_backend):  # type: ignore[no-untyped-def]
    staff = Person(make_engine(sql_backend, admin_ids=frozenset({STAFF_ID})), id=STAFF_ID)
    await staff.consent()
    await staff.command("/broadcast")
    await staff.press("News")
    await staff.press("Those who took part in a laboratory")  # there is no lab at all
    assert "There is nothing to choose from for that yet." in staff.last_texts()[-1]
    assert "Who should receive it?" in staff.shown


async def test_news_reach_those_who_accepted_them_in_their_language(town):  # type: ignore[no-untyped-def]
    backend, staff, citizens = town
    await write_news(staff)
    outcome = await staff.press("No button")
    previews = [r for r in outcome.replies if isinstance(r, Send)]
    assert [p.text for p in previews[:4]] == [
        "👁 Preview in Español:", "<b>Hola</b> vecinos",
        "👁 Preview in English:", "<b>Hello</b> <i>neighbours</i>"]
    # Ana (English), Bea and Eki (Basque: no message in it, so the Spanish one).
    assert "Recipients: 3 citizens" in staff.shown
    assert "• Español: 2" in staff.shown and "• English: 1" in staff.shown
    assert "Everyone who asked for it · only citizens who accept news" in staff.shown
    assert await outbox(backend, broadcast_id=1) == []  # nothing before "Send"

    send = staff.button("Send to 3 citizens")
    await staff.press_data(send)
    assert "is queued for 3 citizens" in staff.shown
    rows = await outbox(backend)
    by_chat = {r.chat_id: r for r in rows}
    assert set(by_chat) == {citizens[n].id for n in ("ana", "bea", "eki")}
    assert by_chat[citizens["ana"].id].body == "<b>Hello</b> <i>neighbours</i>"
    assert by_chat[citizens["bea"].id].body == "<b>Hola</b> vecinos"
    assert by_chat[citizens["eki"].id].body == "<b>Hola</b> vecinos"
    assert {(r.priority, r.status, r.broadcast_id) for r in rows} == {(2, "pending", 1)}
    # The preview is the delivery: same text, same (no) buttons.
    assert previews[1].text == by_chat[citizens["bea"].id].body
    assert by_chat[citizens["bea"].id].buttons is None and previews[1].buttons == ()

    # A second press of the same "Send" (a double tap) queues nothing more.
    again = await staff.press_data(send)
    assert again.replies[0].text == "This button has expired."
    assert len(await outbox(backend)) == 3


async def test_queueing_the_same_broadcast_twice_adds_nothing(town):  # type: ignore[no-untyped-def]
    backend, staff, _ = town
    await write_news(staff)
    await staff.press("No button")
    await staff.press("Send to 3 citizens")
    new = NewBroadcast("news", None, {"key": "all", "value": None},
                       {"es": "<b>Hola</b> vecinos"}, [], "es")
    async with SqlUnitOfWork(backend.sessions) as uow:
        again = await enqueue(uow.session, 1, new, {"es": Rendered("x", None)}, NOW)
        await uow.commit()
    assert again == 0 and len(await outbox(backend)) == 3


async def test_a_button_is_previewed_and_delivered_in_each_language(town):  # type: ignore[no-untyped-def]
    backend, staff, citizens = town
    await write_news(staff)
    assert "💬 Give my opinion: Tu Atención" in staff.labels()
    outcome = await staff.press("Give my opinion: Tu Atención")
    *previews, review = [r for r in outcome.replies if isinstance(r, Send) and r.buttons]
    assert review.text == staff.shown and "Recipients: 3 citizens" in review.text
    assert [p.buttons[0][0].label for p in previews] == ["💬 Dar mi opinión",
                                                         "💬 Give my opinion"]
    await staff.press("Send to 3 citizens")
    rows = {r.chat_id: r for r in await outbox(backend)}
    english = previews[1]
    assert rows[citizens["ana"].id].body == english.text
    assert rows[citizens["ana"].id].buttons == [[[b.label, b.data] for b in english.buttons[0]]]

    # The citizen's button opens the lab's opinion journey.
    ana = citizens["ana"]
    data = rows[ana.id].buttons[0][0][1]
    await ana.press_data(data)
    assert "Which service do you want to give your opinion on?" in ana.shown


async def test_audience_by_lab_and_by_language(town):  # type: ignore[no-untyped-def]
    backend, staff, citizens = town
    # Bea gave an opinion in the lab; Ana did not.
    bea = citizens["bea"]
    async with backend.sessions() as session:
        citizen_id = (await session.execute(select(m.Citizen.id).where(
            m.Citizen.telegram_id == bea.id))).scalar_one()
        service_id = (await session.execute(select(m.Service.id))).scalar_one()
        session.add(m.Opinion(citizen_id=citizen_id, service_id=service_id, rating=4,
                              language="es", channel="telegram", created_at=NOW))
        await session.commit()

    await staff.command("/broadcast")
    await staff.press("News")
    await staff.press("Those who took part in a laboratory")
    assert "Which laboratory?" in staff.shown
    await staff.press("Tu Atención")
    await staff.text("Gracias")
    await staff.press("That's all")
    await staff.press("No button")
    assert "Those who took part in Tu Atención" in staff.shown
    assert "Recipients: 1 citizen" in staff.shown
    await staff.press("Send to 1 citizen")
    assert [r.chat_id for r in await outbox(backend)] == [bea.id]

    await staff.command("/broadcast")
    await staff.press("News")
    await staff.press("Those who use one language")
    await staff.press("Euskara")
    await staff.text("Kaixo")
    await staff.press("That's all")
    await staff.press("No button")
    assert "Those who use Euskara" in staff.shown and "Recipients: 1 citizen" in staff.shown
    await staff.press("Send to 1 citizen")
    assert [r.chat_id for r in await outbox(backend, broadcast_id=2)] == [citizens["eki"].id]


async def test_workshop_invitations_follow_their_own_preference(town):  # type: ignore[no-untyped-def]
    backend, staff, citizens = town
    await staff.command("/broadcast")
    await staff.press("Workshop invitation")
    await staff.press("Everyone who asked for it")
    await staff.text("Taller el jueves")
    await staff.press("That's all")
    await staff.press("No button")
    assert "Recipients: 1 citizen" in staff.shown
    await staff.press("Send to 1 citizen")
    assert [r.chat_id for r in await outbox(backend)] == [citizens["fay"].id]


async def test_nobody_in_the_audience_offers_no_send_button(town):  # type: ignore[no-untyped-def]
    _, staff, _ = town
    await staff.command("/broadcast")
    await staff.press("News")
    await staff.press("Those who use one language")
    await staff.press("Galego")
    await staff.text("Ola")
    await staff.press("That's all")
    await staff.press("No button")
    assert "Nobody would receive it" in staff.shown
    assert not any(label.startswith("✅") for label in staff.labels())


async def test_bad_input_in_the_wizard_is_answered_politely(town):  # type: ignore[no-untyped-def]
    backend, staff, _ = town
    await staff.command("/broadcast")
    await staff.text("hello")
    assert "Please choose one of the options with the buttons." in staff.last_texts()[-1]
    await staff.press("News")
    await staff.press("Everyone who asked for it")
    await staff.media("photo")
    assert "A broadcast can only be a text message for now" in staff.last_texts()[-1]
    await staff.text("x" * 4097)
    assert "Your message has 4,097 characters and the limit is 4,096" in \
        staff.last_texts()[-1]
    assert "Send the message in <b>Español</b>" in staff.shown  # still there
    await staff.press_data("bc:kind:news@1")  # an old or forged button
    assert staff.last_texts()[0] == "This button has expired."
    await staff.text("Hola")
    await staff.press("Back")  # back to Spanish: "Keep it" keeps what was written
    assert "a new message replaces it" in staff.shown
    await staff.press("Keep it")
    await staff.command("/cancel")
    assert "Cancelled. Nothing was saved." in staff.last_texts()[-1]
    assert await outbox(backend) == []


async def queue_news(staff: Person) -> None:
    await write_news(staff)
    await staff.press("No button")
    await staff.press("Send to 3 citizens")


async def test_broadcasts_shows_figures_and_pauses_resumes_cancels(town):  # type: ignore[no-untyped-def]
    backend, staff, citizens = town
    await queue_news(staff)
    ana, bea, eki = (citizens[n].id for n in ("ana", "bea", "eki"))
    async with backend.sessions() as session:
        await session.execute(update(m.Broadcast).values(queued_at=NOW - timedelta(minutes=5)))
        await session.execute(update(m.OutboxMessage).where(m.OutboxMessage.chat_id == ana)
                              .values(status="sent", sent_at=NOW - timedelta(seconds=30)))
        await session.execute(update(m.OutboxMessage).where(m.OutboxMessage.chat_id == bea)
                              .values(status="blocked"))
        await session.commit()

    outcome = await staff.command("/broadcasts")
    [listing] = outcome.replies
    assert "<b>B-000001</b> · News · sending" in listing.text
    assert "Queued: 1 · Sent: 1 · Failed: 0 · Blocked: 1" in listing.text
    # One sent in the last minute: 1/60 a second, one left → a minute from now.
    assert "Rate: 0 messages a second" in listing.text
    assert "expected end: Nov 24, 2026, 11:01:00" in listing.text
    pause = next(b.data for row in listing.buttons for b in row if "Pause" in b.label)

    # A citizen who got hold of the button data cannot use it.
    answered = await citizens["ana"].press_data(pause)
    assert answered.replies[0].text == "This button has expired."

    paused = await staff.press_data(pause)
    assert paused.replies[0].text == "B-000001 is paused. Nothing is lost: resume it when you want."
    assert "· paused" in paused.replies[1].text
    assert [r.status for r in await outbox(backend, chat_id=eki)] == ["paused"]
    store = OutboxStore(backend.sessions)
    assert await store.claim("w", NOW + timedelta(hours=1), 10) == []  # the sender skips it
    # A row being sent at the pause that comes back as pending (a 429) is not taken
    # either, and the sweep sets it aside with the others.
    async with backend.sessions() as session:
        await session.execute(update(m.OutboxMessage).where(m.OutboxMessage.chat_id == eki)
                              .values(status="pending"))
        await session.commit()
    assert await store.claim("w", NOW + timedelta(hours=1), 10) == []
    await store.settle_broadcasts(NOW)
    assert [r.status for r in await outbox(backend, chat_id=eki)] == ["paused"]
    again = await staff.press_data(pause)
    assert again.replies[0].text == "B-000001 is already paused."

    resume = next(b.data for row in paused.replies[1].buttons for b in row
                  if "Resume" in b.label)
    await staff.press_data(resume)
    assert [r.status for r in await outbox(backend, chat_id=eki)] == ["pending"]

    ask = await staff.press_data("bc:ask_stop:1")
    assert "Cancel B-000001? The 1 message not sent yet will not be sent." in \
        ask.replies[1].text
    done = await staff.press_data(ask.replies[1].buttons[0][0].data)
    assert done.replies[0].text == "B-000001 is cancelled: nothing more of it will be sent."
    assert [r.status for r in await outbox(backend, chat_id=eki)] == ["cancelled"]
    assert "Cancelled before sending: 1" in done.replies[1].text
    assert "· cancelled" in done.replies[1].text
    late = await staff.press_data(resume)
    assert late.replies[0].text == "B-000001 was cancelled already."


async def test_a_finished_broadcast_is_done(town):  # type: ignore[no-untyped-def]
    backend, staff, _ = town
    await queue_news(staff)
    async with backend.sessions() as session:
        await session.execute(update(m.OutboxMessage).values(status="sent", sent_at=NOW))
        await session.commit()
    await OutboxStore(backend.sessions).settle_broadcasts(NOW)
    async with backend.sessions() as session:
        found = await session.get(m.Broadcast, 1)
        assert found.status == "done" and found.finished_at == NOW
    outcome = await staff.command("/broadcasts")
    assert "· finished" in outcome.replies[0].text and "Sent: 3" in outcome.replies[0].text


async def test_no_broadcast_yet(town):  # type: ignore[no-untyped-def]
    _, staff, _ = town
    outcome = await staff.command("/broadcasts")
    assert outcome.replies[0].text == "No broadcast has been sent yet. /broadcast starts one."


async def test_personal_notifications_are_claimed_before_a_broadcast(town):  # type: ignore[no-untyped-def]
    backend, staff, citizens = town
    await queue_news(staff)
    async with SqlUnitOfWork(backend.sessions) as uow:
        await uow.outbox.enqueue(NewNotification(chat_id=citizens["dan"].id, created_at=NOW,
                                                 body="Your ticket was answered"))
        await uow.commit()
    [first] = await OutboxStore(backend.sessions).claim("w", NOW, 1)
    assert first.body == "Your ticket was answered" and first.priority == Priority.PERSONAL


async def test_interactive_replies_go_first_while_a_broadcast_waits_for_the_budget():
    """The priority gate: with the budget full, a broadcast send waiting for it is
    overtaken by an interactive reply that arrives later."""
    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds
        await asyncio.sleep(0)

    limiter = LocalSendLimiter(2, clock=lambda: now[0], sleep=sleep)
    for chat in (1, 2):
        assert (await limiter.acquire(chat, Priority.BROADCAST)).ok
    order: list[str] = []

    async def send(name: str, chat: int, priority: Priority) -> None:
        grant = await limiter.acquire(chat, priority)
        assert grant.ok
        order.append(name)

    broadcasts = [asyncio.create_task(send(f"broadcast {n}", 10 + n, Priority.BROADCAST))
                  for n in range(3)]
    await asyncio.sleep(0)
    reply = asyncio.create_task(send("reply", 99, Priority.INTERACTIVE))
    await asyncio.gather(reply, *broadcasts)
    assert order[0] == "reply"


class _Recorder:
    """A limiter that grants (or refuses) everything and remembers what it was asked."""

    def __init__(self, grant: Grant) -> None:
        self.grant = grant
        self.asked: list[tuple[int, Priority]] = []

    async def acquire(self, chat_id, priority, *, timeout=None):  # type: ignore[no-untyped-def]  # noqa: ASYNC109
        self.asked.append((chat_id, priority))
        return self.grant

    async def penalise(self, chat_id, seconds):  # type: ignore[no-untyped-def]
        return None

    async def sent_recently(self, chat_id, within=1.0):  # type: ignore[no-untyped-def]
        return False


class _Telegram:
    def __init__(self) -> None:
        self.sent: list[str | None] = []

    async def send_queued(self, row):  # type: ignore[no-untyped-def]
        self.sent.append(row.body)
        return Delivery("sent", message_id=len(self.sent))


@pytest.mark.parametrize("share_grants", [True, False])
async def test_a_broadcast_takes_from_its_share_of_the_rate_first(town, share_grants):  # type: ignore[no-untyped-def]
    backend, staff, citizens = town
    await queue_news(staff)
    async with SqlUnitOfWork(backend.sessions) as uow:
        await uow.outbox.enqueue(NewNotification(chat_id=citizens["dan"].id, created_at=NOW,
                                                 body="Your ticket was answered"))
        await uow.commit()
    share = _Recorder(Grant(True) if share_grants else Grant(False, chat_wait=2.0))
    shared, telegram = _Recorder(Grant(True)), _Telegram()
    store = OutboxStore(backend.sessions)
    sender = OutboxSender(store, telegram, shared, clock=lambda: NOW,  # type: ignore[arg-type]
                          broadcast_limiter=share)
    for row in await store.claim("w", NOW, 10):
        await sender.send_one(row)
    assert [priority for _, priority in share.asked] == [Priority.BROADCAST] * 3
    if share_grants:
        assert len(telegram.sent) == 4
        assert [priority for _, priority in shared.asked] == [
            Priority.PERSONAL, Priority.BROADCAST, Priority.BROADCAST, Priority.BROADCAST]
    else:
        # No room in the broadcasts' share: they wait (not an attempt), the rest goes.
        assert telegram.sent == ["Your ticket was answered"]
        rows = await outbox(backend, broadcast_id=1)
        assert {(r.status, r.attempts, r.not_before) for r in rows} == {
            ("pending", 0, NOW + timedelta(seconds=2))}


async def test_erasing_a_staff_member_keeps_their_broadcast_unsigned(town):  # type: ignore[no-untyped-def]
    backend, staff, _ = town
    await queue_news(staff)
    outcome = await staff.command("/mydata")
    assert "Broadcasts you wrote: 1" in outcome.replies[-1].text
    await staff.command("/deleteme")
    await staff.press("Delete everything")
    async with backend.sessions() as session:
        found = await session.get(m.Broadcast, 1)
        assert found.created_by is None and found.status == "queued"
    assert len(await outbox(backend)) == 3


def test_the_command_line_lists_shows_pauses_resumes_and_cancels(tmp_path, monkeypatch,  # type: ignore[no-untyped-def]
                                                                  capsys):
    from bot import cli
    from storage import migrate
    from storage.database import create_engine, session_factory
    from tests import services

    url = services.sqlite_url(tmp_path)
    migrate.upgrade(url)

    async def seed() -> None:
        engine = create_engine(url)
        async with session_factory(engine)() as session:
            session.add(m.Citizen(telegram_id=1, language="es", first_seen=NOW, last_seen=NOW))
            session.add(m.Broadcast(kind="news", status="queued", audience={"key": "all"},
                                    bodies={"es": "Hola"}, buttons=[], recipients=2,
                                    created_at=NOW, queued_at=NOW))
            await session.flush()
            for chat, status in ((1, "pending"), (2, "sent")):
                session.add(m.OutboxMessage(chat_id=chat, kind="message", body="Hola",
                                            priority=2, not_before=NOW, status=status,
                                            created_at=NOW, broadcast_id=1))
            await session.commit()
        await engine.dispose()

    asyncio.run(seed())
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)  # no .env file from the working tree

    def run(*args: str) -> tuple[int, str, str]:
        code = cli.main(["broadcasts", *args])
        out, err = capsys.readouterr()
        return code, out, err

    code, out, _ = run("list")
    assert code == 0 and "B-000001  news  queued  audience: all  languages: es" in out
    assert "recipients 2  queued 1  sent 1  failed 0  blocked 0" in out
    assert "rate 0.0/s  expected end not known yet" in out
    code, out, _ = run("pause", "B-000001")
    assert code == 0 and "B-000001  news  paused" in out
    code, _, err = run("pause", "1")
    assert code == 1 and "B-000001 not changed: it is paused" in err
    code, out, _ = run("resume", "1")
    assert code == 0 and "queued" in out
    code, out, _ = run("cancel", "1")
    assert code == 0 and "cancelled 1" in out and "news  cancelled" in out
    code, _, err = run("status", "7")
    assert code == 1 and "there is no broadcast B-000007" in err
    with pytest.raises(SystemExit):
        run("status", "seven")


async def test_an_admin_who_never_consented_is_asked_to_first(sql_backend):  # type: ignore[no-untyped-def]
    admin = Person(make_engine(sql_backend, admin_ids=frozenset({STAFF_ID})), id=STAFF_ID)
    await admin.command("/broadcast")
    assert "Hello! This is the participation channel" in admin.shown
