"""A workshop invitation with "Sign me up", over HTTP on both frameworks: the
running bot delivers it and the citizen's tap opens that workshop's sign-up."""

from __future__ import annotations

from sqlalchemy import update

from storage import models as m
from tests.e2e import Citizen
from tests.test_broadcast_e2e import (  # noqa: F401  (fixtures, used by name)
    STAFF_ID,
    database,
    framework,
    rows,
    staff_bot,
    write_in_telegram,
)


async def test_sign_me_up_under_an_invitation_opens_the_sign_up(staff_bot, fake, rows):  # type: ignore[no-untyped-def]  # noqa: F811
    staff = Citizen(fake, fake.user(id=STAFF_ID, first_name="Sara", language_code="en"))
    ana = Citizen(fake, fake.user(id=5201, first_name="Ana", language_code="en"))
    for person in (staff, ana):
        await person.consent()
    async with rows.sessions() as session:
        await session.execute(update(m.NotificationPreferences).values(
            workshop_invitations=True).where(m.NotificationPreferences.citizen_id.in_(
                m.Citizen.__table__.select().with_only_columns(m.Citizen.id).where(
                    m.Citizen.telegram_id == ana.id).scalar_subquery())))
        await session.commit()

    await staff.command("/broadcast")
    await staff.press("Workshop invitation")
    await staff.press("Everyone who asked for it")
    await write_in_telegram(staff, fake, "<b>Taller</b> el jueves")
    await staff.press("That's all")
    await staff.press("Sign me up: Workshop: let's redesign")
    assert "Recipients: 1 citizen" in (staff.screen.plain_text or "")
    await staff.press("Send to 1 citizen")

    await fake.wait_for(lambda: any("Taller el jueves" == msg.plain_text
                                    for msg in ana.messages()), 15)
    [invitation] = [msg for msg in ana.messages() if msg.plain_text == "Taller el jueves"]
    # No English message was written: the Spanish one, with its button, is hers.
    assert invitation.button_texts == ["✍️ Apúntame"]
    await ana.press("Apúntame", invitation)
    screen = ana.messages()[-1].plain_text or ""
    assert "Workshop registration" in screen and "let's redesign" in screen
    fake.assert_all_callbacks_answered()
