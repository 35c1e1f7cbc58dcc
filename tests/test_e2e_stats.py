"""/stats and /report over HTTP: the fake Bot API → aiogram or PTB → engine →
database → charts → photos back, by polling and by webhook, on the demo lab."""

from __future__ import annotations

import io

from openpyxl import load_workbook
from PIL import Image

from conversations.charts import HEIGHT_PX, WIDTH_PX
from tests.e2e import Citizen
from tests.test_e2e import (  # noqa: F401  (pytest fixtures, used by name)
    RunningBot,
    ana,
    bot_settings,
    database,
    framework,
    mode,
    rows,
)


async def test_staff_get_charts_and_the_report_a_citizen_cannot(  # type: ignore[no-untyped-def]
        fake, database, mode, framework, ana, rows):  # noqa: F811
    settings = bot_settings(fake.base_url, database, mode, framework=framework)
    staff = Citizen(fake, fake.user(id=5009, first_name="Sara", language_code="en"))
    running = RunningBot(settings.model_copy(update={"admin_ids": [staff.id]}), fake, mode)
    await running.start()
    try:
        await ana.consent()
        await ana.to_summary("Clear and quick")
        await ana.press("Send")
        await ana.command("/stats")
        assert "I don't know the command /stats" in ana.messages()[-1].plain_text
        await ana.command("/report", "tu-atencion")
        assert "I don't know the command /report" in ana.messages()[-1].plain_text

        await staff.consent()
        await staff.command("/stats")  # the demo has one lab: straight to the period
        assert "Which period?" in staff.screen.plain_text
        await staff.press("The whole lab")
        photos = [m for m in staff.messages() if m.kind == "photo"]
        assert len(photos) >= 3
        for photo in photos:
            assert photo.photo_bytes is not None
            image = Image.open(io.BytesIO(photo.photo_bytes))
            assert image.size == (WIDTH_PX, HEIGHT_PX)
        captions = [p.plain_caption or "" for p in photos]
        assert "Participants" in captions[0] and "1 person took part." in captions[0]
        assert any("E-government website: 1 opinion, average 4" in c for c in captions)

        await staff.command("/report", "tu-atencion")
        [document] = [m for m in staff.messages() if m.kind == "document"]
        assert document.document_name is not None
        assert document.document_name.startswith("report-tu-atencion-")
        assert document.document_bytes is not None
        workbook = load_workbook(io.BytesIO(document.document_bytes))
        assert {"Summary", "Opinions by service", "Proposals", "Commitments",
                "Tickets"} <= set(workbook.sheetnames)
        assert "Report of" in staff.messages()[-1].plain_text
        fake.assert_all_callbacks_answered()
    finally:
        await running.stop()
