"""One update through the engine and back out: the path both modes share."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bot.transport import Transport
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
        try:
            outcome = await self.engine.handle(event)
        except Unavailable:
            log.warning("storage unavailable; update %s left for redelivery",
                        self.transport.update_id(update))
            raise
        if outcome.queued and self.on_queued is not None:
            self.on_queued()
        if outcome.replies:
            await self.transport.deliver(event, outcome.replies)
