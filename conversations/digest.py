"""The daily digest of opinions for the moderators' group.

Opinions whose author did not ask for an answer reach the group once a day,
together, rather than one message each: a group takes about 20 messages a
minute, and moderators read a summary better than a stream. The bot's
housekeeping calls :func:`queue_opinion_digest` every hour; the dedupe key
(one per day) makes every call after the first a no-op, in every process.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from conversations.engine import notification
from conversations.i18n import pick, translator
from conversations.settings import FlowSettings
from conversations.text import escape, reference, stars
from conversations.vocabulary import Notify
from storage.unit_of_work import UnitOfWork

COMMENT_PREVIEW = 300


async def queue_opinion_digest(uow: UnitOfWork, settings: FlowSettings, now: datetime) -> bool:
    """Queue yesterday's digest (in TIMEZONE) if there is one; True when queued now."""
    if settings.moderators_chat_id is None:
        return False
    zone = ZoneInfo(settings.timezone)
    day = now.astimezone(zone).date() - timedelta(days=1)
    since = datetime.combine(day, time(0), zone)
    opinions = await uow.tickets.opinions_without_ticket(since, since + timedelta(days=1))
    if not opinions:
        return False
    t = translator(settings.default_language, settings.timezone)
    lines = ["📊 <b>" + t.ngettext("{count} opinion on {date}",
                                   "{count} opinions on {date}", len(opinions)).format(
        count=t.number(len(opinions)),
        date=escape(t.datetime(since, "d MMMM y"))) + "</b>"]
    for opinion_id, rating, comment, media_kind, service in opinions:
        line = f"• {reference('OP', opinion_id)} · {stars(rating)} · " \
            f"{escape(pick(service, settings.default_language))}"
        if comment:
            short = comment if len(comment) <= COMMENT_PREVIEW \
                else comment[:COMMENT_PREVIEW] + "…"
            line += f"\n  <i>{escape(short)}</i>"
        if media_kind == "voice":
            line += " 🎤"
        elif media_kind == "photo":
            line += " 📷"
        lines.append(line)
    group = await uow.chats.current_id(settings.moderators_chat_id)
    queued = await uow.outbox.enqueue(notification(Notify(
        group, "\n".join(lines), key=f"digest:opinions:{day.isoformat()}"), now))
    return queued is not None
