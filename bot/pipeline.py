"""One update through the engine and back out: the path both modes share."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from bot import metrics
from bot.transport import Transport
from conversations import log_context
from conversations.engine import Engine, Unavailable

log = logging.getLogger(__name__)


class Pipeline:
    def __init__(self, engine: Engine, transport: Transport,
                 on_queued: Callable[[], None] | None = None) -> None:
        self.engine = engine
        self.transport = transport
        self.on_queued = on_queued

    async def process(self, update: Any) -> None:
        """Handle one update; raises Unavailable when it must be delivered again."""
        event = self.transport.to_event(update)
        if event is None:
            return
        log_context.begin(update_id=event.update_id, user_id=event.user.id, kind=event.kind)
        started = time.perf_counter()
        try:
            outcome = await self.engine.handle(event)
        except Unavailable:
            metrics.ERRORS.labels("unavailable").inc()
            log.warning("storage unavailable; update %s left for redelivery",
                        self.transport.update_id(update))
            raise
        except Exception:
            metrics.ERRORS.labels("other").inc()
            raise
        metrics.UPDATES.labels(event.kind).inc()
        if outcome.duplicate:
            metrics.DUPLICATES.inc()
        if outcome.failed:
            metrics.ERRORS.labels("handler").inc()
        if outcome.queued and self.on_queued is not None:
            self.on_queued()
        if outcome.replies:
            await self.transport.deliver(event, outcome.replies)
        metrics.HANDLER_SECONDS.labels(event.kind).observe(time.perf_counter() - started)
