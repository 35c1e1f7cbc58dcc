"""Periodic clean-up that keeps tables from growing without bound."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import async_sessionmaker

from storage import models as m

# Telegram keeps an unconfirmed update for 24 hours; twice that covers any
# redelivery, and a webhook retry after a long outage.
PROCESSED_UPDATES_KEPT = timedelta(hours=48)


async def prune_processed_updates(sessions: async_sessionmaker, now: datetime) -> int:
    """Forget update ids Telegram can no longer deliver again; returns how many."""
    async with sessions() as session:
        result = await session.execute(delete(m.ProcessedUpdate).where(
            m.ProcessedUpdate.seen_at < now - PROCESSED_UPDATES_KEPT))
        await session.commit()
        return result.rowcount or 0
