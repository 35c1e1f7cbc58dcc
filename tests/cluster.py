"""``participa run --workers N`` behind nginx, as real processes, for the
scale-out test and bench/scaleout.py.

nginx runs with deploy/nginx.conf adjusted by tests.deploy_files (paths in
a temporary folder, plain HTTP on a free port, the workers' ports); the
fake Bot API POSTs updates to nginx as Telegram would to WEBHOOK_URL.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp

from tests.deploy_files import ROOT, local_nginx_conf, nginx_binary
from tests.e2e import SECRET, TOKEN, consecutive_free_ports, free_port
from tests.fake_bot_api import FakeBotAPI

START_TIMEOUT_S = 30.0


class Cluster:
    def __init__(self, fake: FakeBotAPI, folder: Path, *, workers: int, database_url: str,
                 redis_url: str, redis_prefix: str, env: dict[str, str] | None = None) -> None:
        self.fake = fake
        self.folder = folder
        self.workers = workers
        self.webhook_base = consecutive_free_ports(workers)
        self.ops_base = consecutive_free_ports(workers)
        self.nginx_port = free_port()
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(ROOT),
            "BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE": fake.base_url,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "REDIS_PREFIX": redis_prefix,
            "WEBHOOK_URL": f"http://127.0.0.1:{self.nginx_port}/tg",
            "WEBHOOK_SECRET": SECRET,
            "WEBHOOK_LISTEN": f"127.0.0.1:{self.webhook_base}",
            "OPS_LISTEN": f"127.0.0.1:{self.ops_base}",
            "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"),
            "LOG_LEVEL": "INFO",
            **(env or {}),
        }
        self.bot: asyncio.subprocess.Process | None = None
        self.nginx: asyncio.subprocess.Process | None = None

    @property
    def webhook_urls(self) -> list[str]:
        """Each worker's own webhook address (nginx is bypassed)."""
        return [f"http://127.0.0.1:{self.webhook_base + i}/tg" for i in range(self.workers)]

    @property
    def ops_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{self.ops_base + i}" for i in range(self.workers)]

    @property
    def log(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.folder.glob("*.log")))

    async def start(self) -> None:
        binary = nginx_binary()
        assert binary is not None
        conf = local_nginx_conf(
            self.folder, listen=self.nginx_port,
            webhook_ports=[self.webhook_base + i for i in range(self.workers)],
            ops_ports=[self.ops_base + i for i in range(self.workers)])
        self.nginx = await asyncio.create_subprocess_exec(
            binary, "-c", str(conf), "-p", str(self.folder), "-e",
            str(self.folder / "error.log"), "-g", "daemon off;",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        with (self.folder / "bot.log").open("wb") as output:
            self.bot = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", "run", "--workers", str(self.workers),
                cwd=self.folder, env=self.env, stdout=output, stderr=asyncio.subprocess.STDOUT)
        try:
            await self.wait_until_up()
        except BaseException:
            await self.stop()  # no nginx or workers left behind
            raise

    async def wait_until_up(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT_S
        async with aiohttp.ClientSession() as http:
            while True:
                assert self.bot is not None
                if self.bot.returncode is not None:
                    raise AssertionError(f"the workers exited ({self.bot.returncode}):\n"
                                         f"{self.log}")
                if self.fake.webhook_url is not None and await self._all_answer(http):
                    return
                if loop.time() > deadline:
                    raise AssertionError(f"the workers did not come up:\n{self.log}")
                await asyncio.sleep(0.1)

    async def _all_answer(self, http: aiohttp.ClientSession) -> bool:
        urls = [f"{u}/healthz" for u in self.ops_urls] + \
               [f"http://127.0.0.1:{self.nginx_port}/healthz"]
        try:
            for url in urls:
                async with http.get(url, timeout=aiohttp.ClientTimeout(total=2)) as answer:
                    if answer.status != 200:
                        return False
        except (aiohttp.ClientError, TimeoutError):
            return False
        return True

    async def post_to_worker(self, index: int, update: dict) -> int:
        async with aiohttp.ClientSession() as http, http.post(
                self.webhook_urls[index], json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as answer:
            return answer.status

    async def metrics(self, index: int = 0) -> str:
        async with aiohttp.ClientSession() as http, \
                http.get(f"{self.ops_urls[index]}/metrics") as answer:
            assert answer.status == 200
            return await answer.text()

    async def stop(self) -> int | None:
        code = None
        if self.bot is not None and self.bot.returncode is None:
            self.bot.send_signal(signal.SIGTERM)
            try:
                code = await asyncio.wait_for(self.bot.wait(), 45)
            except TimeoutError:
                self.bot.kill()
                await self.bot.wait()
        if self.nginx is not None and self.nginx.returncode is None:
            self.nginx.send_signal(signal.SIGQUIT)
            try:
                await asyncio.wait_for(self.nginx.wait(), 10)
            except TimeoutError:
                self.nginx.kill()
                await self.nginx.wait()
        return code
