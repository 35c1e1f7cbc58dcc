"""One update through the engine and back out: the path both modes share."""

from __future__ import annotations

import logging
from typing import Any

from bot.transport import Transport
from conversations.engine import Engine, Unavailable

log = logging.getLogger(__name__)


class Pipeline:
    def __init__(self, engine: Engine, transport: Transport) -> None:
        self.engine = engine
        self.transport = transport

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
        if outcome.replies:
            await self.transport.deliver(event, outcome.replies)
