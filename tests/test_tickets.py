"""Answering citizens: tickets between a citizen and the moderators' group."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from conversations.vocabulary import Send
from storage import models as m
from tests.harness import NOW, Person, make_engine
from tests.moderation_helpers import (
    BOSS,
    GROUP,
    button,
    engine_for,
    in_group,
    outbox,
    sent,
    thread,
    tickets,
)
from tests.workshop_people import Clock


def said(outcome) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(r.text for r in outcome.replies if isinstance(r, Send))


async def test_a_ticket_round_trip_with_a_hidden_forward(sql_backend):  # type: ignore[no-untyped-def]
    engine = engine_for(sql_backend)
    ana = Person(engine)
    await ana.consent()
    await ana.press("Ask or tell us something")
    assert "What would you like to ask or tell us?" in ana.shown
    await ana.text("When does the <office> open?", message_id=41)
    assert "T-000001" in ana.shown
    [ticket] = await tickets(sql_backend)
    assert ticket["status"] == "open" and ticket["group_chat_id"] == GROUP
    [post] = await outbox(sql_backend, GROUP)
    assert "T-000001" in post["body"] and "When does the &lt;office&gt; open?" in post["body"]
    assert [b[0] for b in post["buttons"][0]] == ["🙋 I'll take it", "✅ Close"]
    await sent(sql_backend, post, 77)

    # A moderator replies to the ticket's message: the citizen gets it from the team.
    marta = in_group(engine)
    done = await marta.text("At nine, <b>every</b> day", reply_to_message_id=77, message_id=78)
    assert "T-000001" in said(done)
    [answer] = await outbox(sql_backend, ana.id)
    assert "Answer from the team" in answer["body"]
    assert "At nine, &lt;b&gt;every&lt;/b&gt; day" in answer["body"]
    [ticket] = await tickets(sql_backend)
    assert ticket["status"] == "assigned" and ticket["assignee_name"] == "Marta"

    # The citizen replies with "Reply": the same ticket, relayed to the group.
    await ana.press_data(button(answer, "Reply"))
    assert "Write your reply about T-000001" in ana.shown
    await ana.media("voice", "VOICE-9", message_id=45)
    relayed = [r for r in await outbox(sql_backend, GROUP) if r["id"] != post["id"]]
    assert [r["kind"] for r in relayed] == ["message", "copy"]
    assert relayed[1]["copy_from_chat_id"] == ana.id  # copied, not uploaded again
    await sent(sql_backend, relayed[1], 80)
    messages = await thread(sql_backend)
    assert [(m["direction"], m["media_kind"]) for m in messages] == \
        [("in", None), ("out", None), ("in", "voice")]

    # A reply to the relayed voice note (not to a forward) still finds the ticket.
    await marta.text("Thanks for the voice note", reply_to_message_id=80)
    assert len(await outbox(sql_backend, ana.id)) == 2


async def test_a_second_moderator_is_told_who_has_it(sql_backend):  # type: ignore[no-untyped-def]
    engine = engine_for(sql_backend, admin_ids=frozenset({BOSS, 901}))
    ana = Person(engine)
    await ana.consent()
    await ana.press("Ask or tell us something")
    await ana.text("Hello")
    [post] = await outbox(sql_backend, GROUP)
    marta, luis = in_group(engine), in_group(engine, 901, "Luis")
    took = await marta.press_data(button(post, "take it"))
    assert took.replies[0].text == "It's yours."
    assert "Taken by Marta" in took.replies[1].text
    other = await luis.press_data(button(post, "take it"))
    assert other.replies[0].text == "Marta has already taken it."
    [ticket] = await tickets(sql_backend)
    assert ticket["assignee_telegram_id"] == BOSS


async def test_closing_asks_once_and_stores_the_score(sql_backend):  # type: ignore[no-untyped-def]
    engine = engine_for(sql_backend)
    ana = Person(engine)
    await ana.consent()
    await ana.press("Ask or tell us something")
    await ana.text("Hello")
    [post] = await outbox(sql_backend, GROUP)
    marta = in_group(engine)
    await marta.press_data(button(post, "Close"))
    again = await marta.press_data(button(post, "Close"))
    assert again.replies[0].text == "This ticket is closed."
    [survey] = await outbox(sql_backend, ana.id)
    assert "Were you satisfied with the answer?" in survey["body"]
    await ana.press_data(button(survey, "4"))
    await ana.press_data(button(survey, "2"))  # asked once, answered once
    [ticket] = await tickets(sql_backend)
    assert (ticket["status"], ticket["satisfaction"], ticket["closed_by"]) == \
        ("closed", 4, "team")


async def test_the_citizen_closes_with_solved(sql_backend):  # type: ignore[no-untyped-def]
    engine = engine_for(sql_backend)
    ana = Person(engine)
    await ana.consent()
    await ana.press("Ask or tell us something")
    await ana.text("Hello")
    await in_group(engine).command("/reply T-1 Done!")
    [answer] = await outbox(sql_backend, ana.id)
    solved = await ana.press_data(button(answer, "Solved"))
    assert "Were you satisfied" in said(solved)
    again = await ana.press_data(button(answer, "Solved"))
    assert "no longer available" in said(again)
    [ticket] = await tickets(sql_backend)
    assert ticket["closed_by"] == "citizen"


async def test_forum_topic_holds_the_posts_until_it_exists(sql_backend):  # type: ignore[no-untyped-def]
    engine = engine_for(sql_backend, moderators_topics=True)
    ana = Person(engine)
    await ana.consent()
    await ana.press("Ask or tell us something")
    await ana.media("photo", "PHOTO-1", caption="Broken ramp", message_id=12)
    topic, post, copy = await outbox(sql_backend, GROUP)
    assert topic["kind"] == "topic" and topic["body"].startswith("T-000001")
    assert (post["status"], copy["status"]) == ("held", "held")
    await sent(sql_backend, topic, 555)
    await sent(sql_backend, topic, 556)  # created twice after a crash: the first one counts
    _, post, copy = await outbox(sql_backend, GROUP)
    assert (post["status"], post["thread_id"], copy["thread_id"]) == ("pending", 555, 555)
    # Writing in the topic answers the ticket.
    await in_group(engine, thread_id=555).text("We'll fix it")
    [answer] = await outbox(sql_backend, ana.id)
    assert "We'll fix it" in answer["body"]


async def test_group_chatter_and_strangers_are_ignored(sql_backend):  # type: ignore[no-untyped-def]
    engine = engine_for(sql_backend)
    outsider = in_group(engine, 333, "Pepe")
    assert (await outsider.text("hello all")).replies == []
    unknown = await outsider.command("/inbox")
    assert said(unknown) == "I don't know the command /inbox here."
    assert said(await outsider.command("/help")) == "I don't know the command /help here."
    listed = said(await in_group(engine).command("/help"))
    assert listed.startswith("As administrator you can also use:") and "/inbox — " in listed


async def test_inbox_lists_open_tickets_oldest_first_with_pages(sql_backend):  # type: ignore[no-untyped-def]
    engine = engine_for(sql_backend, inbox_page_size=2)
    for n in range(3):
        citizen = Person(engine, id=600 + n, first_name=f"C{n}", username=None)
        await citizen.consent()
        await citizen.press("Ask or tell us something")
        await citizen.text(f"question {n}")
    marta = in_group(engine)
    [post] = [r for r in await outbox(sql_backend, GROUP) if "T-000002" in r["body"]]
    await marta.press_data(button(post, "take"))
    first = await marta.command("/inbox")
    [page] = [r for r in first.replies if isinstance(r, Send)]
    assert page.text.startswith("<b>3 open tickets</b>")
    assert page.text.index("T-000001") < page.text.index("T-000002")
    assert "nobody has it yet" in page.text and "taken by Marta" in page.text
    assert "T-000003" not in page.text
    more = await marta.press_data(page.buttons[0][0].data)
    assert "T-000003" in more.replies[1].text


async def test_ticket_shows_the_whole_thread_and_reply_explains_mistakes(sql_backend):  # type: ignore[no-untyped-def]
    engine = engine_for(sql_backend)
    ana = Person(engine)
    await ana.consent()
    await ana.press("Ask or tell us something")
    await ana.text("Where is my <form>?")
    marta = Person(engine, id=BOSS, first_name="Marta")  # in a private chat with the bot
    assert "Sent to the citizen (T-000001)" in said(await marta.command("/reply T-1 In the post"))
    thread_text = said(await marta.command("/ticket T-000001"))
    assert "Where is my &lt;form&gt;?" in thread_text and "In the post" in thread_text
    assert thread_text.index("Citizen") < thread_text.index("Team")
    assert "Use it like this: /reply T-12" in said(await marta.command("/reply T-1"))
    assert "There is no ticket T-99" in said(await marta.command("/reply T-99 hello"))
    assert "There is no ticket T-99" in said(await marta.command("/ticket T-99"))
    assert "limit is 3,500" in said(await marta.command("/reply T-1 " + "x" * 4000))


async def test_bad_input_while_writing_to_the_team_is_explained(sql_backend):  # type: ignore[no-untyped-def]
    engine = engine_for(sql_backend)
    ana = Person(engine)
    await ana.consent()
    await ana.press("Ask or tell us something")
    await ana.media("sticker")
    assert "I can take a text message, a voice note or a photo here." in ana.shown
    await ana.text("   ")
    assert "The message is empty" in ana.shown
    await ana.text("x" * 4000)
    assert "4,000 characters and the limit is 3,500" in ana.shown
    assert await tickets(sql_backend) == []
    await ana.press("Cancel")
    assert "Cancelled. Nothing was saved." in ana.shown
    # A forged Reply button for someone else's ticket does nothing.
    other = Person(engine, id=777)
    await other.consent()
    await other.press("Ask or tell us something")
    await other.text("mine")
    gone = await ana.press_data("tk:reply:1")
    assert "no longer available" in said(gone)


async def test_a_closed_ticket_refuses_more_answers(sql_backend):  # type: ignore[no-untyped-def]
    engine = engine_for(sql_backend)
    ana = Person(engine)
    await ana.consent()
    await ana.press("Ask or tell us something")
    await ana.text("Hello")
    [post] = await outbox(sql_backend, GROUP)
    marta = in_group(engine)
    await marta.press_data(button(post, "Close"))
    assert "T-000001 is closed; the answer was not sent." in \
        said(await marta.command("/reply T-1 late answer"))


async def test_a_post_held_in_the_instant_the_topic_appeared_is_released(sql_backend):  # type: ignore[no-untyped-def]
    from storage.outbox import NewNotification, OutboxStore
    from storage.sql import SqlUnitOfWork
    from tests.harness import NOW

    engine = engine_for(sql_backend, moderators_topics=True)
    ana = Person(engine)
    await ana.consent()
    await ana.press("Ask or tell us something")
    await ana.text("Hello")
    topic, _ = await outbox(sql_backend, GROUP)
    await sent(sql_backend, topic, 321)
    # A reply queued by an event that had not seen the topic yet: held.
    async with SqlUnitOfWork(sql_backend.sessions) as uow:
        await uow.outbox.enqueue(NewNotification(chat_id=GROUP, created_at=NOW, body="late",
                                                 dedupe_key="ticket:1:in:9", held=True))
        await uow.outbox.enqueue(NewNotification(chat_id=GROUP, created_at=NOW, body="other",
                                                 dedupe_key="ticket:12:in:9", held=True))
        await uow.commit()
    assert await OutboxStore(sql_backend.sessions).release_held_for_topics(NOW) == 1
    late, other = [r for r in await outbox(sql_backend, GROUP) if r["body"] in ("late", "other")]
    assert (late["status"], late["thread_id"]) == ("pending", 321)
    assert other["status"] == "held"  # ticket 12 has no topic (and "ticket:1" is not "ticket:12")


async def test_no_answer_reaches_a_citizen_who_withdrew_consent(sql_backend):  # type: ignore[no-untyped-def]
    engine = engine_for(sql_backend)
    ana = Person(engine)
    await ana.consent()
    await ana.press("Ask or tell us something")
    await ana.text("Hello")
    overview = (await ana.command("/privacy")).replies[0]
    asked = await ana.press_data(overview.buttons[0][0].data)
    await ana.press_data(asked.replies[-1].buttons[0][0].data)
    marta = in_group(engine)
    assert "T-000001 has withdrawn their consent" in \
        said(await marta.command("/reply T-1 Hello again"))
    [post] = await outbox(sql_backend, GROUP)
    await marta.press_data(button(post, "Close"))
    assert await outbox(sql_backend, ana.id) == []  # no answer, no survey


async def test_text_typed_after_an_answer_goes_into_that_ticket(sql_backend):  # type: ignore[no-untyped-def]
    clock = Clock()
    engine = make_engine(sql_backend, clock=clock, moderators_chat_id=GROUP,
                         admin_ids=frozenset({BOSS}), default_language="en")
    ana = Person(engine)
    await ana.consent()
    await ana.text("hello?")  # nothing answered yet: the buttons, as always
    assert "Please choose one of the options with the buttons." in said(ana.history[-1])
    for question in ("First question", "Second question"):
        await ana.press("Ask or tell us something")
        await ana.text(question)
    boss = Person(engine, id=BOSS, first_name="Marta")
    await boss.consent()
    await boss.command("/reply T-1 An answer to the first")
    clock.now = NOW + timedelta(hours=1)
    await boss.command("/reply T-2 An answer to the second")

    # Ana types instead of pressing "Reply": it goes into T-000002, answered last.
    clock.now = NOW + timedelta(hours=2)
    done = await ana.text("Thanks, and <what> about Saturdays?", message_id=60)
    assert said(done) == "✅ Added to your question T-000002. The team will answer you here."
    relayed = [r for r in await outbox(sql_backend, GROUP) if ":in:" in (r["dedupe_key"] or "")]
    assert len(relayed) == 1 and "T-000002" in relayed[0]["body"]
    assert "Thanks, and &lt;what&gt; about Saturdays?" in relayed[0]["body"]
    messages = [(m["ticket_id"], m["direction"]) for m in await thread(sql_backend)]
    assert messages[-1] == (2, "in")
    assert "Your message has 3,501 characters" in said(await ana.text("x" * 3501))

    # More than 24 hours after the answer, or once the ticket is closed: the buttons.
    clock.now = NOW + timedelta(hours=26)
    assert "Please choose one of the options" in said(await ana.text("Still there?"))
    clock.now = NOW + timedelta(hours=2)
    async with sql_backend.sessions() as session:
        await session.execute(update(m.Ticket).values(status="closed"))
        await session.commit()
    assert "Please choose one of the options" in said(await ana.text("Hello again"))
