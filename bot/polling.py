"""Long polling that confirms an update to Telegram only after it was handled.

The frameworks' own loops confirm an update at the next getUpdates call
whether or not its handler finished (aiogram runs handlers as background
tasks). Here a batch is handled first, concurrently across conversations
(the engine's per-conversation lock keeps each citizen's events in arrival
order), and the offset moves past an update only once it was handled. When
storage is down, the offset stops at the first unhandled update and the
batch is fetched again after a pause: later updates already handled are
recognised as duplicates.
"""

from __future__ import annotations

import asyncio
import logging

from bot.pipeline import Pipeline
from conversations.engine import Unavailable

log = logging.getLogger(__name__)

POLL_TIMEOUT_S = 25
MAX_BACKOFF_S = 30.0


class Poller:
    def __init__(self, pipeline: Pipeline, *, poll_timeout: int = POLL_TIMEOUT_S) -> None:
        self.pipeline = pipeline
        self.transport = pipeline.transport
        self.poll_timeout = poll_timeout
        self.offset: int | None = None
        self._stopping = asyncio.Event()
        self._fetch: asyncio.Task | None = None

    def stop(self) -> None:
        """Stop fetching; the batch in hand is finished and confirmed first."""
        self._stopping.set()
        if self._fetch is not None:
            self._fetch.cancel()

    async def run(self) -> None:
        """Poll until stopped; raises only on what retrying cannot mend (a refused token)."""
        await self._remove_webhook()
        backoff = 0.5
        while not self._stopping.is_set():
            self._fetch = asyncio.ensure_future(
                self.transport.get_updates(self.offset, self.poll_timeout))
            try:
                updates = await self._fetch
            except asyncio.CancelledError:
                if self._stopping.is_set():
                    break
                raise
            except Exception as error:  # network, 409 conflict, 5xx: wait and try again
                if self.transport.is_fatal(error):
                    raise
                log.warning("getUpdates failed: %s", type(error).__name__)
                await self._pause(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                continue
            finally:
                self._fetch = None
            if not updates:
                backoff = 0.5
                continue
            if await self._handle_batch(updates):
                backoff = 0.5
            else:
                await self._pause(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
        await self._confirm()

    async def _remove_webhook(self) -> None:
        """Polling needs no webhook (getUpdates would get 409); pending updates are kept.
        Telegram being unreachable at start is waited out, not fatal."""
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                await self.transport.delete_webhook()
                return
            except Exception as error:
                if self.transport.is_fatal(error):
                    raise
                log.warning("deleteWebhook failed: %s; retrying", type(error).__name__)
                await self._pause(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    async def _handle_batch(self, updates) -> bool:  # type: ignore[no-untyped-def]
        results = await asyncio.gather(*(self.pipeline.process(u) for u in updates),
                                       return_exceptions=True)
        for update, result in zip(updates, results, strict=True):
            if isinstance(result, Unavailable):
                self.offset = self.transport.update_id(update)
                return False
            if isinstance(result, BaseException):
                # A bug outside the engine's own error handling: log it and move
                # on, or one poisoned update would block every citizen.
                log.error("update %s failed: %r", self.transport.update_id(update), result)
        self.offset = self.transport.update_id(updates[-1]) + 1
        return True

    async def _confirm(self) -> None:
        """Tell Telegram what was handled before exiting (getUpdates with the offset)."""
        if self.offset is None:
            return
        try:
            await self.transport.get_updates(self.offset, 0)
        except Exception as error:
            log.warning("could not confirm the last updates: %s", type(error).__name__)

    async def _pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            pass
