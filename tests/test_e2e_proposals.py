"""Browse and rate proposals over HTTP: the fake Bot API → aiogram or PTB → engine →
database → back, by polling and by webhook, on the demo lab's proposals."""

from __future__ import annotations

from storage import models as m
from tests.test_e2e import (  # noqa: F401  (pytest fixtures, used by name)
    ana,
    bot,
    database,
    framework,
    mode,
    rows,
    unstarted,
)


async def test_a_citizen_browses_and_rates_a_proposal(bot, fake, ana, rows):  # type: ignore[no-untyped-def]  # noqa: F811
    await ana.consent()
    await ana.press("Proposals")
    screen = ana.screen
    assert "Which proposals do you want to see?" in screen.plain_text
    await ana.press("All proposals")
    # The demo has 7 visible proposals (one pending, one rejected are not shown).
    assert "Newest first · page 1 of 2" in screen.plain_text
    assert len([b for b in screen.button_texts if b[:1].isdigit()]) == 5
    await ana.press("Next")
    assert "page 2 of 2" in screen.plain_text
    assert "A chat with a person" not in screen.plain_text  # pending
    await ana.press("Open the offices on Saturday mornings")
    assert "Proposed by: A citizen" in screen.plain_text
    assert "Service: In-person service and registry offices" in screen.plain_text
    assert "No ratings yet." in screen.plain_text
    assert screen.button_texts[:5] == ["1", "2", "3", "4", "5"]

    rated = await ana.press("4")
    assert ana.answer_to(rated).get("text") == "Thank you! You rated it 4."
    assert "4.0 of 5 from 1 rating" in screen.plain_text
    assert "You rated it 4. Tap another number to change your rating." in screen.plain_text
    assert "4 stars: 1 ██████████" in screen.plain_text
    assert "4 ✓" in screen.button_texts

    await ana.press("5")  # changing it keeps one row
    assert "5.0 of 5 from 1 rating" in screen.plain_text
    [rating] = await rows.all(m.ProposalRating)
    citizen = await rows.citizen(ana.id)
    assert citizen is not None
    assert (rating["score"], rating["citizen_id"]) == (5, citizen["id"])
    [proposal] = [p for p in await rows.all(m.Proposal) if p["id"] == rating["proposal_id"]]
    assert (proposal["slug"], proposal["ratings_count"], proposal["rated_5"]) == \
        ("abrir-sabados", 1, 1)

    await ana.press("Back")
    assert "page 2 of 2" in screen.plain_text
    fake.assert_all_callbacks_answered()
    assert len(ana.messages()) == 1  # every press edited the same message
