"""Everything a process builds from the settings: database, Redis, the engine."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.config import Settings
from bot.sender import BROADCAST_SHARE, PER_CHAT_PER_SECOND, PER_GROUP_PER_MINUTE
from conversations.engine import Engine
from storage.database import create_engine, session_factory
from storage.leases import Lease, RedisLease, SoleProcess
from storage.limits import LocalThrottle, RedisThrottle, Throttle
from storage.locks import LocalLocks, Locks, RedisLocks
from storage.outbox import OutboxStore
from storage.send_limits import LocalSendLimiter, RedisSendLimiter, SendLimiter
from storage.sql import SqlUnitOfWork

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    db: AsyncEngine
    sessions: async_sessionmaker
    redis: Redis | None
    engine: Engine
    limiter: SendLimiter
    outbox: OutboxStore
    broadcast_limiter: SendLimiter | None = None

    @classmethod
    def create(cls, settings: Settings) -> Runtime:
        db = create_engine(settings.database_url)
        sessions = session_factory(db)
        redis = Redis.from_url(settings.redis_url, socket_timeout=5,
                               socket_connect_timeout=5) if settings.redis_url else None
        locks: Locks
        throttle: Throttle
        if redis is not None:
            locks = RedisLocks(redis, settings.redis_prefix)
            throttle = RedisThrottle(redis, settings.redis_prefix, settings.throttle_per_minute)
        else:
            locks = LocalLocks()
            throttle = LocalThrottle(settings.throttle_per_minute)
        engine = Engine(uow=lambda: SqlUnitOfWork(sessions), settings=settings.flow_settings(),
                        locks=locks, throttle=throttle)
        # Per-chat limits with a margin under Telegram's (see bot.sender).
        per_chat = {"per_chat_per_second": PER_CHAT_PER_SECOND,
                    "per_group_per_minute": PER_GROUP_PER_MINUTE}
        limiter: SendLimiter = (
            RedisSendLimiter(redis, settings.redis_prefix, settings.send_rate, **per_chat)
            if redis is not None else LocalSendLimiter(settings.send_rate, **per_chat))
        # Broadcasts' own share of the rate (see bot.sender.BROADCAST_SHARE).
        share = {"rate": settings.send_rate * BROADCAST_SHARE, "per_chat_per_second": 0,
                 "per_group_per_minute": 0}
        broadcast_limiter: SendLimiter = (
            RedisSendLimiter(redis, f"{settings.redis_prefix}broadcast:", **share)
            if redis is not None else LocalSendLimiter(**share))
        return cls(settings, db, sessions, redis, engine, limiter, OutboxStore(sessions),
                   broadcast_limiter)

    def scheduling_lease(self) -> Lease:
        """Who runs the scheduled work: the holder of a Redis lease, or this
        process when there is no Redis (then it is the only one)."""
        if self.redis is None:
            return SoleProcess()
        return RedisLease(self.redis, f"{self.settings.redis_prefix}lease:scheduler")

    async def check_database(self) -> None:
        async with self.db.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def check_redis(self) -> None:
        assert self.redis is not None
        await self.redis.ping()

    def readiness_checks(self) -> dict:
        checks = {"database": self.check_database}
        if self.redis is not None:
            checks["redis"] = self.check_redis
        return checks

    async def mark_blocked(self, telegram_id: int) -> None:
        """A 403 from Telegram: the citizen blocked the bot; later sends skip them."""
        async with SqlUnitOfWork(self.sessions) as uow:
            await uow.citizens.set_blocked(telegram_id, True, self.engine.clock())
            await uow.commit()

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
        await self.db.dispose()
