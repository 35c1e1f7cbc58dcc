"""``participa run``: the bot on Telegram, by long polling or webhook.

SIGTERM or SIGINT: stop taking updates, finish those in hand (and confirm
them), close cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
from collections.abc import Callable
from datetime import datetime, timedelta

from aiohttp import web

from bot.aiogram_transport import AiogramTransport
from bot.config import Settings, split_listen
from bot.ops import ops_app
from bot.pipeline import Pipeline
from bot.polling import Poller
from bot.ptb_transport import PtbTransport
from bot.runtime import Runtime
from bot.sender import OutboxSender
from bot.transport import Transport
from bot.webhook import webhook_app
from conversations.digest import queue_opinion_digest
from conversations.flows.staff import refresh_menus
from conversations.i18n import available_languages
from conversations.workshop_jobs import erase_sensitive_answers, run_workshop_jobs
from storage import migrate
from storage.housekeeping import prune_processed_updates
from storage.leases import Lease, SoleProcess
from storage.personal_data import purge_inactive
from storage.sql import SqlUnitOfWork

log = logging.getLogger(__name__)

WEBHOOK_MAX_CONNECTIONS = 40
SHUTDOWN_GRACE_S = 30.0
HOUSEKEEPING_EVERY = timedelta(hours=1)
#: How often a worker that does not hold the scheduling lease looks again.
LEADER_CHECK_S = 60.0
# Waiting-list offers expire to the minute: checked this often.
WORKSHOP_JOBS_EVERY_S = 60.0


class NotReady(Exception):
    """Start-up cannot go on; the message says what to do."""


async def _serve(app: web.Application, listen: str) -> web.AppRunner:
    runner = web.AppRunner(app, shutdown_timeout=SHUTDOWN_GRACE_S, access_log=None)
    await runner.setup()
    host, port = split_listen(listen)
    await web.TCPSite(runner, host, port).start()
    return runner


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass


async def housekeeping(runtime: Runtime, stop: asyncio.Event, lease: Lease | None = None) -> None:
    """Hourly clean-up, the retention purge once a day, and yesterday's digest
    of opinions for the moderators (a dedupe key per day). With several
    workers only the lease's holder runs it (all of it is idempotent anyway);
    the others look again every minute, to take over when the holder goes."""
    lease = lease or SoleProcess()
    last_run: datetime | None = None
    last_purge: datetime | None = None
    while not stop.is_set():
        now = runtime.engine.clock()
        if lease.held and (last_run is None or now - last_run >= HOUSEKEEPING_EVERY):
            last_run = now
            try:
                pruned = await prune_processed_updates(runtime.sessions, now)
                log.info("housekeeping: %d old update ids forgotten", pruned)
                if last_purge is None or now - last_purge >= timedelta(days=1):
                    purged = await purge_inactive(runtime.sessions, now,
                                                  runtime.settings.retention_days)
                    erased = await erase_sensitive_answers(runtime.sessions, now)
                    last_purge = now
                    log.info("retention: %d inactive people erased, %d sensitive workshop "
                             "answers", purged.people, erased)
                async with SqlUnitOfWork(runtime.sessions) as uow:
                    if await queue_opinion_digest(uow, runtime.engine.settings, now):
                        log.info("the daily digest of opinions is queued for the moderators")
                    await uow.commit()
            except Exception as error:  # the database may be down for a while: try later
                log.warning("housekeeping failed: %s", type(error).__name__)
        await _pause(stop, LEADER_CHECK_S)


async def workshop_jobs(runtime: Runtime, stop: asyncio.Event, on_queued,  # type: ignore[no-untyped-def]
                        lease: Lease | None = None) -> None:
    """Expired offers, free seats for the waiting list, sensitive answers of past
    workshops; every minute, by the lease's holder only (the jobs are safe in
    several processes too: see conversations.workshop_jobs)."""
    lease = lease or SoleProcess()
    while not stop.is_set():
        if lease.held:
            try:
                report = await run_workshop_jobs(runtime.engine.uow, runtime.sessions,
                                                 runtime.engine.settings,
                                                 runtime.engine.clock())
                if report.expired_offers or report.offers:
                    on_queued()
                if report.expired_offers or report.offers or report.sensitive_answers_erased:
                    log.info("workshops: %d offers expired, %d seats offered, %d sensitive "
                             "answers erased", report.expired_offers, report.offers,
                             report.sensitive_answers_erased)
            except Exception as error:  # the database may be down for a while: try later
                log.warning("workshop jobs failed: %s", type(error).__name__)
        await _pause(stop, WORKSHOP_JOBS_EVERY_S)


async def learn_bot_username(runtime: Runtime, transport: Transport) -> None:
    """The flows build t.me links (the check-in QR code) with the bot's @username."""
    try:
        username = await transport.bot_username()
    except Exception as error:
        log.warning("could not learn the bot's username (getMe): %s", error)
        return
    if username:
        runtime.engine.settings = dataclasses.replace(runtime.engine.settings,
                                                      bot_username=username)


async def publish_menus(runtime: Runtime, transport: Transport, sender: OutboxSender) -> None:
    """Commands and descriptions for everyone, the staff's own menus: once per
    start, by one worker (both are cosmetic: the bot works without them)."""
    settings = runtime.settings
    try:
        await transport.publish_profile(available_languages(), settings.default_locale)
    except Exception as error:
        log.warning("could not publish commands and descriptions: %s", error)
    try:
        async with SqlUnitOfWork(runtime.sessions) as uow:
            flow = runtime.engine.settings
            if await refresh_menus(uow, flow.admin_ids, flow.default_language,
                                   runtime.engine.clock()):
                sender.wake()
            await uow.commit()
    except Exception as error:
        log.warning("could not queue the staff's command menus: %s", type(error).__name__)


def make_transport(settings: Settings, runtime: Runtime) -> Transport:
    """The adapter BOT_FRAMEWORK names; the rest of the process is the same for both."""
    assert settings.bot_token is not None
    kind = PtbTransport if settings.bot_framework == "ptb" else AiogramTransport
    return kind(settings.bot_token.get_secret_value(), settings.telegram_api_base,
                on_blocked=runtime.mark_blocked, limiter=runtime.limiter)


async def run_bot(settings: Settings, stop: asyncio.Event | None = None, *,
                  worker: int = 0, on_serving: Callable[[], None] | None = None) -> None:
    """One process of the bot. ``worker`` is its index under ``participa run
    --workers N``: worker 0 alone sets the webhook and publishes the menus.
    ``on_serving`` is called once updates are being taken (the process's
    start-up is over: see bot/gc_tuning.py)."""
    if settings.bot_token is None:
        raise NotReady("BOT_TOKEN is not set: get one from @BotFather, or try "
                       "`participa console`")
    if not await asyncio.to_thread(migrate.is_up_to_date, settings.database_url):
        raise NotReady("the database is not up to date: run `participa db upgrade` first")
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        # Outside the main thread (tests) the caller's stop event is the way out.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    runtime = Runtime.create(settings)
    transport = make_transport(settings, runtime)
    sender = OutboxSender(runtime.outbox, transport, runtime.limiter,
                          concurrency=settings.sender_concurrency,
                          spacing=1 / settings.send_rate if settings.send_rate else 0.0,
                          broadcast_limiter=runtime.broadcast_limiter)
    pipeline = Pipeline(runtime.engine, transport, on_queued=sender.wake)
    lease = runtime.scheduling_lease()
    await lease.tick()  # the first worker up starts the scheduled work at once
    leasing = asyncio.create_task(lease.run(stop))
    jobs = asyncio.create_task(workshop_jobs(runtime, stop, sender.wake, lease))
    runners: list[web.AppRunner] = []
    poller: Poller | None = None
    polling: asyncio.Task | None = None
    await learn_bot_username(runtime, transport)
    cleaning = asyncio.create_task(housekeeping(runtime, stop, lease))
    # The sender stops only after updates stopped coming (they may queue more).
    sender_stop = asyncio.Event()
    sending = asyncio.create_task(sender.run(sender_stop))
    try:
        if worker == 0:
            await publish_menus(runtime, transport, sender)
        runners.append(await _serve(ops_app(runtime.readiness_checks(), runtime.outbox.waiting),
                                    settings.ops_listen))
        if settings.webhook_url:
            assert settings.webhook_secret is not None
            secret = settings.webhook_secret.get_secret_value()
            runners.append(await _serve(webhook_app(pipeline, settings.webhook_path, secret),
                                        settings.webhook_listen))
            if worker == 0:
                await transport.set_webhook(settings.webhook_url, secret,
                                            WEBHOOK_MAX_CONNECTIONS)
            log.info("webhook mode: worker %d listening on %s", worker,
                     settings.webhook_listen)
        else:
            poller = Poller(pipeline)
            polling = asyncio.create_task(poller.run())
            log.info("polling mode")
        if on_serving is not None:
            on_serving()
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait([waiter, *([polling] if polling else [])],
                           return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if polling is not None and polling.done() and not polling.cancelled() \
                and polling.exception() is not None:
            # Polling died on its own (deleteWebhook refused: a revoked token,
            # Telegram unreachable at start): exit with the reason, not quietly
            # with status 0 as if stopped on purpose.
            error = polling.exception()
            raise NotReady(f"polling stopped: {type(error).__name__}: {error}") from error
        log.info("stopping: finishing the updates in hand")
    finally:
        if poller is not None and polling is not None:
            poller.stop()
            await asyncio.gather(polling, return_exceptions=True)
        for runner in reversed(runners):
            await runner.cleanup()  # waits for webhook requests in flight
        stop.set()
        sender_stop.set()
        await asyncio.gather(cleaning, jobs, sending, leasing, return_exceptions=True)
        await transport.close()
        await runtime.close()
