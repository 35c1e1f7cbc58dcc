"""The webhook endpoint: 200 only after the update was handled and committed.

The secret header is compared in constant time. A button press is answered
in the HTTP answer itself (answerCallbackQuery as its body, see
bot/pipeline.py). When storage is down the
answer is 503, so Telegram delivers the update again later; the engine's
processed-updates table makes that redelivery harmless.
"""

from __future__ import annotations

import hmac
import json
import logging

from aiohttp import web

from bot.pipeline import Pipeline
from conversations.engine import Unavailable

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY_BYTES = 1024 * 1024


def webhook_app(pipeline: Pipeline, path: str, secret: str) -> web.Application:
    expected = secret.encode()

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            return web.Response(status=401, text="unauthorized")
        try:
            raw = json.loads(await request.read())
            update = pipeline.transport.parse_update(raw)
        except (ValueError, TypeError) as error:
            # Malformed bodies would be retried forever by Telegram; they can
            # only come from somewhere else, so refuse them for good.
            log.warning("unparseable webhook body: %s", type(error).__name__)
            return web.Response(status=400, text="bad update")
        try:
            method = await pipeline.process(update, answer_in_response=True)
        except Unavailable:
            return web.Response(status=503, text="try again later")
        if method is not None:
            return web.json_response(method)
        return web.Response(text="ok")

    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_post(path, receive)
    return app
