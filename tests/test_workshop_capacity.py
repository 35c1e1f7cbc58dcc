"""Capacity is the database's: many sign-ups at once never overbook a workshop."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from storage import models as m
from storage.sql import SqlUnitOfWork
from tests.harness import NOW
from tests.workshop_fixtures import add_citizens, add_workshop

CONCURRENT, SEATS = 120, 15


async def sign_up(sessions, workshop_id: int, citizen_id: int) -> str:  # type: ignore[no-untyped-def]
    async with SqlUnitOfWork(sessions) as uow:
        result = await uow.workshops.sign_up(workshop_id, citizen_id, NOW)
        await uow.commit()
        return result.outcome


async def test_many_concurrent_sign_ups_fill_the_seats_exactly(sql_backend):  # type: ignore[no-untyped-def]
    sessions = sql_backend.sessions
    workshop_id = await add_workshop(sessions, NOW, capacity=SEATS)
    citizens = await add_citizens(sessions, NOW, CONCURRENT)
    outcomes = await asyncio.gather(*(sign_up(sessions, workshop_id, c) for c in citizens))
    assert outcomes.count("confirmed") == SEATS
    assert outcomes.count("waitlisted") == CONCURRENT - SEATS
    async with sessions() as session:
        taken = await session.scalar(select(m.Workshop.taken))
        confirmed = await session.scalar(select(func.count()).select_from(m.Registration)
                                         .where(m.Registration.status == "confirmed"))
        tokens = await session.scalar(select(func.count(func.distinct(
            m.Registration.checkin_token))))
    assert taken == confirmed == SEATS
    assert tokens == CONCURRENT


async def test_signing_up_twice_at_once_gives_one_registration(sql_backend):  # type: ignore[no-untyped-def]
    sessions = sql_backend.sessions
    workshop_id = await add_workshop(sessions, NOW, capacity=5)
    [citizen] = await add_citizens(sessions, NOW, 1)
    outcomes = await asyncio.gather(*(sign_up(sessions, workshop_id, citizen)
                                      for _ in range(6)))
    assert sorted(outcomes) == ["already"] * 5 + ["confirmed"]
    async with sessions() as session:
        assert await session.scalar(select(m.Workshop.taken)) == 1


async def test_a_workshop_that_started_takes_no_sign_ups(sql_backend):  # type: ignore[no-untyped-def]
    sessions = sql_backend.sessions
    workshop_id = await add_workshop(sessions, NOW, starts_in=timedelta(minutes=-5))
    [citizen] = await add_citizens(sessions, NOW, 1)
    assert await sign_up(sessions, workshop_id, citizen) == "closed"
