"""Over HTTP on both frameworks: a citizen who types after the team's answer
(instead of pressing "Reply") is heard in the same ticket."""

# The fixtures are imported and used as parameters, which ruff reads as redefinitions.
# ruff: noqa: F811

from __future__ import annotations

from storage import models as m
from tests.e2e import settle
from tests.test_e2e import (  # noqa: F401  (fixtures reused as they are)
    ana,
    database,
    framework,
    mode,
    rows,
)
from tests.test_e2e_moderation import BOSS, GROUP, moderated, until, with_text  # noqa: F401


async def test_typing_after_an_answer_goes_into_the_ticket(moderated, fake, ana, rows):  # type: ignore[no-untyped-def]
    group = fake.group(GROUP, title="Moderación")
    marta = fake.user(id=BOSS, first_name="Marta", username="marta", language_code="es")
    await ana.consent()
    await ana.press("Ask or tell us something")
    await ana.text("Is the office open on Saturday?")
    await fake.wait_for(lambda: with_text(fake, GROUP, "T-000001"), 10)
    post = with_text(fake, GROUP, "T-000001")
    await until(lambda: rows.all(m.Ticket), lambda t: t[0]["group_message_id"] is not None)
    await settle(fake, await marta.send_text("Yes, from 9 to 2", chat=group,
                                             reply_to=post.message_id))
    await fake.wait_for(lambda: with_text(fake, ana.id, "Answer from the team"), 10)

    await ana.text("And on Sundays?")
    assert "Added to your question T-000001" in (ana.messages()[-1].plain_text or "")
    await fake.wait_for(lambda: with_text(fake, GROUP, "And on Sundays?"), 10)
    assert [t["direction"] for t in await rows.all(m.TicketMessage)] == ["in", "out", "in"]
