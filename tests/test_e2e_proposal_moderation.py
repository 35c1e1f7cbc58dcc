"""A citizen's proposal decided in the moderators' group, over HTTP on both
frameworks (polling and webhook): posted through the outbox, "Reject with
reason", the reason given as a reply to the bot's question, the post edited
through the outbox and the author told."""

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


async def test_a_proposal_is_rejected_with_a_reason_from_the_group(moderated, fake, ana,  # type: ignore[no-untyped-def]
                                                                   rows):
    group = fake.group(GROUP, title="Moderación")
    marta = fake.user(id=BOSS, first_name="Marta", username="marta", language_code="es")
    await ana.consent()
    await ana.press("Proposals")
    await ana.press("All proposals")
    await ana.press("Submit a proposal")
    await ana.text("A <bench> at the door")
    await ana.text("People wait standing.")
    await ana.press("General")
    await ana.press("Send")
    mine = max(await rows.all(m.Proposal), key=lambda p: p["id"])  # the newest
    ref = f"PR-{mine['id']:06d}"
    assert ref in ana.screen.plain_text

    await fake.wait_for(lambda: with_text(fake, GROUP, ref), 10)
    post = with_text(fake, GROUP, ref)
    assert "A <bench> at the door" in post.plain_text
    assert post.button_texts == ["✅ Publicar", "🚫 Rechazar con motivo"]
    await until(lambda: rows.all(m.ProposalReview),
                lambda found: found and found[0]["post_message_id"] is not None)

    await settle(fake, await marta.press(post, "🚫 Rechazar con motivo"))
    await fake.wait_for(lambda: with_text(fake, GROUP, "¿por qué se rechaza"), 10)
    question = with_text(fake, GROUP, "¿por qué se rechaza")
    await until(lambda: rows.all(m.ProposalReview),
                lambda found: found[0]["prompt_message_id"] is not None)
    await settle(fake, await marta.send_text("There is one already", chat=group,
                                             reply_to=question.message_id))
    await fake.wait_for(lambda: with_text(fake, GROUP, "está rechazada"), 10)
    await fake.wait_for(lambda: "Rechazada por Marta" in post.plain_text, 10)
    assert "Motivo: There is one already" in post.plain_text and post.buttons == []
    await fake.wait_for(lambda: with_text(fake, ana.id, "There is one already"), 10)
    news = with_text(fake, ana.id, "There is one already")
    assert "News about your proposal" in news.plain_text and "Not accepted" in news.plain_text
    [proposal] = [p for p in await rows.all(m.Proposal) if p["id"] == mine["id"]]
    assert proposal["status"] == "rejected"
    fake.assert_all_callbacks_answered()
