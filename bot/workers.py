"""``participa run --workers N``: N webhook workers on one machine.

Each worker is a process of its own (its own event loop, its own database
pool and Redis connections) running :func:`bot.app.run_bot`. Worker ``i``
listens on the ports of WEBHOOK_LISTEN and OPS_LISTEN plus ``i``: consecutive
ports rather than one port shared with SO_REUSEPORT, because

* nginx in front (deploy/nginx.conf) then balances over named upstreams,
  takes a worker that stops answering out of the rotation, and retries the
  update on another one; with SO_REUSEPORT the kernel hashes connections to
  sockets and nobody notices a worker that hangs;
* each worker's operations listener (/healthz, /readyz) must be reachable
  on its own anyway, to tell which worker is unwell.

Only worker 0 sets the webhook and publishes the command menus; scheduled
work runs in the worker holding the Redis lease (storage.leases); the
outbox sender runs in every worker (rows are claimed with SKIP LOCKED, the
rate limit lives in Redis). Nothing here migrates the database.

Several workers need what makes them agree: webhook mode (two processes
polling get 409 from Telegram), PostgreSQL (one SQLite file is one writer)
and Redis (per-citizen locks, throttle, rate limit, lease).

The supervisor restarts a worker that dies (SIGKILL, a crash) after a short
pause, and stops everything when a worker cannot start (restarting would
not help) or they keep dying; SIGTERM or SIGINT stops them all, each
finishing its updates in hand.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import shutil
import signal
import tempfile
import time
from multiprocessing.process import BaseProcess
from pathlib import Path

from bot.config import Settings, split_listen

log = logging.getLogger(__name__)

RESTART_PAUSE_S = 1.0
#: A worker dying this many times within CRASH_WINDOW_S is not going to get
#: better by itself (a wrong setting, a port taken): everything stops.
MAX_CRASHES = 5
CRASH_WINDOW_S = 60.0
STOP_GRACE_S = 40.0
#: A worker's exit status for "cannot start" (BOT_TOKEN missing, the schema
#: not up to date): restarting would not help, so everything stops.
EXIT_NOT_READY = 3


class CannotScaleOut(Exception):
    """N > 1 workers without what they need to agree; one line says what."""


def check_scale_out(settings: Settings, workers: int) -> None:
    if workers < 1:
        raise CannotScaleOut("--workers must be at least 1")
    if workers == 1:
        return
    missing = []
    if not settings.webhook_url:
        missing.append("webhook mode (WEBHOOK_URL; polling from two processes gets 409)")
    if not settings.database_url.startswith("postgresql"):
        missing.append("PostgreSQL (DATABASE_URL)")
    if not settings.redis_url:
        missing.append("Redis (REDIS_URL)")
    if missing:
        raise CannotScaleOut(f"--workers {workers} needs " + ", ".join(missing))
    _, webhook = split_listen(settings.webhook_listen)
    _, ops = split_listen(settings.ops_listen)
    if abs(webhook - ops) < workers:
        raise CannotScaleOut(
            f"--workers {workers} needs WEBHOOK_LISTEN and OPS_LISTEN at least {workers} "
            f"ports apart (workers take {webhook}-{webhook + workers - 1} and "
            f"{ops}-{ops + workers - 1}), e.g. 127.0.0.1:8100 and 127.0.0.1:9100")


def shifted(listen: str, by: int) -> str:
    host, port = split_listen(listen)
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{port + by}"


def worker_settings(settings: Settings, index: int) -> Settings:
    return settings.model_copy(update={
        "webhook_listen": shifted(settings.webhook_listen, index),
        "ops_listen": shifted(settings.ops_listen, index),
    })


def _worker_main(index: int) -> None:
    """A worker process: the settings are read again from the same environment."""
    from bot import gc_tuning
    from bot.app import NotReady, run_bot
    from bot.config import load_settings
    from bot.logs import configure_logging

    settings = load_settings()
    configure_logging(**settings.log_settings(), worker=index)
    # Ctrl-C reaches the whole process group; until run_bot installs its own
    # handlers (which stop it cleanly) a worker must not die of it half-started.
    # The supervisor forwards SIGTERM as well.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        asyncio.run(run_bot(worker_settings(settings, index), worker=index,
                            on_serving=gc_tuning.settle_after_start))
    except NotReady as error:
        log.error("worker %d cannot start: %s", index, error)
        raise SystemExit(EXIT_NOT_READY) from None


def prepare_metrics_dir(workers: int) -> Path | None:
    """prometheus_client's multiprocess mode: every worker writes its figures
    to files in one directory, and /metrics of any worker adds them up. The
    directory must be empty at start (left-overs would count twice)."""
    if workers == 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    folder = Path(given) if given else Path(tempfile.mkdtemp(prefix="participa-metrics-"))
    folder.mkdir(parents=True, exist_ok=True)
    for leftover in folder.glob("*.db"):
        leftover.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    return None if given else folder


class Supervisor:
    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.context = multiprocessing.get_context("spawn")
        self.processes: dict[int, BaseProcess] = {}
        self.crashes: list[float] = []
        self.stopping = False

    def start(self, index: int) -> None:
        process = self.context.Process(target=_worker_main, args=(index,),
                                       name=f"participa-worker-{index}")
        process.start()
        self.processes[index] = process
        log.info("worker %d started (pid %s)", index, process.pid)

    def stop_all(self, *_: object) -> None:
        self.stopping = True
        for process in self.processes.values():
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self.stop_all)
        signal.signal(signal.SIGINT, self.stop_all)
        for index in range(self.workers):
            self.start(index)
        status = 0
        while not self.stopping:
            time.sleep(0.2)
            for index, process in list(self.processes.items()):
                if process.is_alive() or self.stopping:
                    continue
                self._mark_dead(process)
                now = time.monotonic()
                self.crashes = [t for t in self.crashes if now - t < CRASH_WINDOW_S] + [now]
                log.warning("worker %d exited (%s)", index, process.exitcode)
                if process.exitcode == EXIT_NOT_READY:
                    status = 1
                    self.stop_all()
                    break
                if len(self.crashes) >= MAX_CRASHES:
                    log.error("workers keep dying (%d in %.0f s): stopping", len(self.crashes),
                              CRASH_WINDOW_S)
                    status = 1
                    self.stop_all()
                    break
                time.sleep(RESTART_PAUSE_S)
                self.start(index)
        deadline = time.monotonic() + STOP_GRACE_S
        for process in self.processes.values():
            process.join(max(0.1, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
            self._mark_dead(process)
        return status

    @staticmethod
    def _mark_dead(process: BaseProcess) -> None:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR") and process.pid is not None:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(process.pid)


def run_workers(settings: Settings, workers: int) -> int:
    check_scale_out(settings, workers)
    own_dir = prepare_metrics_dir(workers)
    try:
        return Supervisor(workers).run()
    finally:
        if own_dir is not None:
            shutil.rmtree(own_dir, ignore_errors=True)
