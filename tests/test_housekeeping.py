"""Old update ids are forgotten; recent ones still stop redeliveries."""

from __future__ import annotations

from datetime import timedelta

from storage.housekeeping import prune_processed_updates
from storage.sql import SqlUnitOfWork
from tests.harness import NOW


async def test_update_ids_older_than_two_days_are_pruned(sessions):  # type: ignore[no-untyped-def]
    async with SqlUnitOfWork(sessions) as uow:
        await uow.updates.mark_seen(1, NOW - timedelta(hours=49))
        await uow.updates.mark_seen(2, NOW - timedelta(hours=47))
        await uow.commit()
    assert await prune_processed_updates(sessions, NOW) == 1
    async with SqlUnitOfWork(sessions) as uow:
        assert await uow.updates.mark_seen(1, NOW) is True
        assert await uow.updates.mark_seen(2, NOW) is False
