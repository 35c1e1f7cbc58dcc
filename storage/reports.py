"""Tables the staff read (``participa export``): columns plus rows of plain values.

Reports are anonymous: no citizen identifier (id, Telegram id, username,
name) and no media file id ever leaves through them. The rows hold Python
values (aware datetimes, ints); :func:`storage.export.write_table` turns
them into CSV or XLSX.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import models as m

DEFAULT_LANGUAGE = "es"

OPINION_COLUMNS = ["reference", "created_at", "lab_slug", "service_slug", "service_title",
                   "rating", "comment", "media_kind", "language", "channel"]


def reference(prefix: str, number: int) -> str:
    """The reference a citizen was given (the same as conversations.text.reference)."""
    return f"{prefix}-{number:06d}"


def pick(texts: dict[str, str] | None, language: str) -> str:
    """The text in ``language``, else Spanish, else any."""
    if not texts:
        return ""
    return texts.get(language) or texts.get(DEFAULT_LANGUAGE) or next(iter(texts.values()))


async def opinions_table(session: AsyncSession, lab_slug: str | None,
                         language: str = "es") -> tuple[list[str], list[tuple]]:
    """Every opinion (of one lab, or of all labs) in the order they were given."""
    query = (
        select(m.Opinion.id, m.Opinion.created_at, m.Lab.slug, m.Service.slug,
               m.Service.title, m.Opinion.rating, m.Opinion.comment, m.Opinion.media_kind,
               m.Opinion.language, m.Opinion.channel)
        .join(m.Service, m.Service.id == m.Opinion.service_id)
        .join(m.Lab, m.Lab.id == m.Service.lab_id)
        .order_by(m.Opinion.id)
    )
    if lab_slug is not None:
        query = query.where(m.Lab.slug == lab_slug)
    rows = [
        (reference("OP", opinion_id), created_at, lab, service, pick(title, language), rating,
         comment, media_kind, opinion_language, channel)
        for (opinion_id, created_at, lab, service, title, rating, comment, media_kind,
             opinion_language, channel) in await session.execute(query)
    ]
    return list(OPINION_COLUMNS), rows
