"""The operations listener: /healthz while alive, /readyz when storage answers,
/metrics for Prometheus (bot.metrics)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot import metrics

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[None]]
CHECK_TIMEOUT_S = 3.0


def ops_app(checks: dict[str, Check],
            outbox_depth: metrics.OutboxDepth | None = None) -> web.Application:
    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def readyz(_: web.Request) -> web.Response:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
                results[name] = "ok"
            except Exception as error:
                results[name] = f"unavailable: {type(error).__name__}"
        ready = all(v == "ok" for v in results.values())
        return web.json_response({"ready": ready, "checks": results},
                                 status=200 if ready else 503)

    async def scrape(_: web.Request) -> web.Response:
        depth = None
        if outbox_depth is not None:
            try:
                depth = await asyncio.wait_for(outbox_depth(), CHECK_TIMEOUT_S)
            except Exception as error:  # the rest of the figures are still worth having
                log.warning("metrics: no outbox depth (%s)", type(error).__name__)
        body, content_type = metrics.render(depth)
        return web.Response(body=body, headers={"Content-Type": content_type})

    app = web.Application()
    app.router.add_get("/metrics", scrape)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app
