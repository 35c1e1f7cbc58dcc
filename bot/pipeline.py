"""One update through the engine and back out: the path both modes share."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from bot import metrics
from bot.bot_api import ANSWER_TEXT_LIMIT
from bot.transport import Transport
from conversations import log_context
from conversations.engine import Engine, Unavailable
from conversations.vocabulary import Answer

log = logging.getLogger(__name__)


class Pipeline:
    def __init__(self, engine: Engine, transport: Transport,
                 on_queued: Callable[[], None] | None = None) -> None:
        self.engine = engine
        self.transport = transport
        self.on_queued = on_queued

    async def process(self, update: Any, *,
                      answer_in_response: bool = False) -> dict[str, Any] | None:
        """Handle one update; raises Unavailable when it must be delivered again.

        With ``answer_in_response`` (the webhook), the answer to a button
        press is not sent: it is returned as the method for the webhook's
        HTTP answer, which Telegram performs itself (Bot API: "you can perform
        a request to the Bot API while sending an answer to the webhook").
        That is one request fewer for most updates; measured in
        bench/throughput.py as about 6 % of the bot's CPU. The answer's
        outcome is never known, which costs nothing: a press answered twice
        or too late is harmless."""
        event = self.transport.to_event(update)
        if event is None:
            return None
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
        replies, in_response = outcome.replies, None
        if answer_in_response and event.callback_id and replies \
                and isinstance(replies[0], Answer):
            in_response, replies = answer_method(event.callback_id, replies[0]), replies[1:]
        if replies:
            await self.transport.deliver(event, replies)
        metrics.HANDLER_SECONDS.labels(event.kind).observe(time.perf_counter() - started)
        return in_response


def answer_method(callback_id: str, answer: Answer) -> dict[str, Any]:
    """answerCallbackQuery as a webhook answer's body."""
    method: dict[str, Any] = {"method": "answerCallbackQuery", "callback_query_id": callback_id}
    if answer.text:
        method["text"] = answer.text[:ANSWER_TEXT_LIMIT]
    if answer.alert:
        method["show_alert"] = True
    return method
