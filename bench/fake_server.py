"""The fake Bot API in a process of its own, for bench/outbox.py.

    .venv/bin/python bench/fake_server.py [--global-rate 30] [--per-chat-rate 1]

Prints ``PORT <n>`` once it listens, serves until SIGTERM/SIGINT. Besides the
Bot API it answers a few control routes for the bench:

- ``POST /control/users`` ``{"ids": [...]}``: private chats that pressed Start;
- ``GET /control/sends``: every sendMessage so far, ``[time, status, chat_id,
  text]`` (time: the arrival, ``time.monotonic()``, comparable across processes
  on Linux);
- ``GET /control/count``: ``{"ok": n, "calls": m}`` (accepted and all sends).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e import TOKEN
from tests.fake_bot_api import FakeBotAPI


class BenchFake(FakeBotAPI):
    def make_app(self) -> web.Application:
        app = super().make_app()
        app.router.add_post("/control/users", self._control_users)
        app.router.add_get("/control/sends", self._control_sends)
        app.router.add_get("/control/count", self._control_count)
        return app

    async def _control_users(self, request: web.Request) -> web.Response:
        for user_id in (await request.json())["ids"]:
            self.user(int(user_id), started=True)
        return web.json_response({"ok": True})

    async def _control_sends(self, request: web.Request) -> web.Response:
        return web.json_response({"sends": [
            [c.time, c.status, c.params.get("chat_id"), c.params.get("text")]
            for c in self.calls if c.method == "sendMessage"]})

    async def _control_count(self, request: web.Request) -> web.Response:
        sends = [c for c in self.calls if c.method == "sendMessage"]
        return web.json_response({"ok": sum(c.status == 200 for c in sends),
                                  "calls": len(sends)})


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--global-rate", type=int, default=None)
    parser.add_argument("--per-chat-rate", type=int, default=None)
    args = parser.parse_args()
    fake = BenchFake(TOKEN, global_rate=args.global_rate, per_chat_rate=args.per_chat_rate)
    await fake.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"PORT {fake.port}", flush=True)
    await stop.wait()
    await fake.stop()


if __name__ == "__main__":
    asyncio.run(main())
