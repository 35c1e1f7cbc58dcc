"""A Notify from a flow becomes an outbox row in the event's own transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from conversations.callback import CallbackData
from conversations.flow import Ctx, Flow, Go, Screen, State
from conversations.vocabulary import BROADCAST, Button, Copy, Notify
from storage import models as m
from tests.harness import Person, SqlBackend, make_engine

relay = Flow("tn", entry="ask")


@relay.state("ask")
class Ask(State):
    async def show(self, ctx: Ctx) -> Screen:
        return Screen("Tell the team?", ((ctx.button("Yes", "yes"),),))

    async def on_button(self, data: CallbackData, ctx: Ctx) -> Go | None:
        if ctx.data.get("explode"):
            raise RuntimeError("a bug after queuing")
        return Go("menu.idle", replies=(
            Notify(-100777, "A citizen <b>asks</b>", ((Button("Take it", "tk:take:1"),),),
                   key="ticket:1", on_sent="ticket:1"),
            Notify(-100777, "Same again", key="ticket:1"),
            Copy(ctx.event.chat.id, 55, -100777, priority=BROADCAST),
        ))


@pytest.fixture
async def sql_backend(backend):  # type: ignore[no-untyped-def]
    if not isinstance(backend, SqlBackend):
        pytest.skip("reads the outbox table")
    return backend


async def outbox_rows(backend) -> list[m.OutboxMessage]:  # type: ignore[no-untyped-def]
    async with backend.sessions() as session:
        return list((await session.execute(
            select(m.OutboxMessage).order_by(m.OutboxMessage.id))).scalars())




async def test_notifications_are_queued_with_the_event(sql_backend):  # type: ignore[no-untyped-def]
    ana = Person(make_engine(sql_backend))
    await ana.consent()
    outcome = await _press_yes(ana, sql_backend)
    assert outcome.queued == 3
    assert not any(isinstance(r, Notify | Copy) for r in outcome.replies)  # never sent directly
    message, copy = await outbox_rows(sql_backend)  # the second Notify had the same key
    assert (message.chat_id, message.body, message.buttons, message.dedupe_key,
            message.on_sent, message.priority, message.status) == (
        -100777, "A citizen <b>asks</b>", [[["Take it", "tk:take:1"]]], "ticket:1",
        "ticket:1", 1, "pending")
    assert (copy.kind, copy.copy_from_chat_id, copy.copy_message_id, copy.priority) == \
        ("copy", ana.id, 55, BROADCAST)


async def test_a_failing_event_queues_nothing(sql_backend):  # type: ignore[no-untyped-def]
    ana = Person(make_engine(sql_backend))
    await ana.consent()
    outcome = await _press_yes(ana, sql_backend, explode=True)
    assert "something went wrong" in outcome.replies[-1].text
    assert await outbox_rows(sql_backend) == []


async def _press_yes(person: Person, backend, explode: bool = False):  # type: ignore[no-untyped-def]
    """Put the person at the relay's question (as a journey would), then press Yes."""
    async with backend.uow() as uow:
        state = await uow.conversations.load(person.id, person.id)
        state.flow, state.state, state.step = "tn", "ask", 50
        state.data = {"explode": explode}
        await uow.conversations.save(state, person.engine.clock())
        await uow.commit()
    return await person.press_data("tn:yes:@50")
