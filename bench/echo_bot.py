"""The bare bots bench/throughput.py compares Participa with: echo, no database.

    .venv/bin/python bench/echo_bot.py aiogram|ptb API_BASE TOKEN [WEBHOOK_URL]

A few lines of each framework as its documentation shows them, by long
polling, or behind a webhook when WEBHOOK_URL is given (served on its host
and port; a 200 only after the update was handled, as Participa answers).
Updates are handled concurrently (aiogram does by default; PTB needs
``concurrent_updates``, without which it handles one update at a time and
the comparison would flatter Participa). Each sends its echo as a call of
its own, never in the webhook's answer, like Participa's replies.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

SECRET = "bench-echo-secret"
MAX_CONNECTIONS = 40  # what Participa asks for (bot/app.py)


async def aiogram_echo(base: str, token: str, webhook_url: str | None) -> None:
    from aiogram import Bot, Dispatcher
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.types import Message

    bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(base)))
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text or "?")

    if webhook_url is None:
        await dispatcher.start_polling(bot, polling_timeout=2)
        return
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
    from aiohttp import web

    app = web.Application()
    SimpleRequestHandler(dispatcher, bot, handle_in_background=False,
                         secret_token=SECRET).register(app, path=urlsplit(webhook_url).path)
    setup_application(app, dispatcher, bot=bot)
    async with serving(app, webhook_url):
        await bot.set_webhook(webhook_url, secret_token=SECRET,
                              max_connections=MAX_CONNECTIONS)
    await bot.session.close()


def ptb_echo(base: str, token: str, webhook_url: str | None) -> None:
    from telegram import Update
    from telegram.ext import Application, ContextTypes, MessageHandler, filters

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None
        await context.bot.send_message(message.chat_id, message.text or "?")

    builder = (Application.builder().token(token).base_url(f"{base}/bot")
               .concurrent_updates(True))
    if webhook_url is None:
        application = builder.build()
        application.add_handler(MessageHandler(filters.ALL, echo))
        application.run_polling(timeout=2, poll_interval=0)
        return
    # PTB's own webhook server needs tornado and answers before handling; its
    # documentation's "custom webhook bot" hands each update to the
    # application from a web framework of one's choosing: aiohttp here.
    application = builder.updater(None).build()
    application.add_handler(MessageHandler(filters.ALL, echo))
    asyncio.run(ptb_webhook(application, webhook_url))


async def ptb_webhook(application, webhook_url: str) -> None:  # type: ignore[no-untyped-def]
    from aiohttp import web
    from telegram import Update

    async def receive(request: web.Request) -> web.Response:
        if request.headers.get("X-Telegram-Bot-Api-Secret-Token") != SECRET:
            return web.Response(status=401)
        await application.process_update(Update.de_json(await request.json(), application.bot))
        return web.Response()

    app = web.Application()
    app.router.add_post(urlsplit(webhook_url).path, receive)
    async with application:
        await application.start()
        async with serving(app, webhook_url):
            await application.bot.set_webhook(webhook_url, secret_token=SECRET,
                                               max_connections=MAX_CONNECTIONS)
        await application.stop()


@contextlib.asynccontextmanager
async def serving(app, webhook_url: str) -> AsyncIterator[None]:  # type: ignore[no-untyped-def]
    """Serves ``app`` on the webhook's host and port until SIGTERM (the
    benchmark's stop), after the body of the ``with`` ran."""
    from aiohttp import web

    runner = web.AppRunner(app)
    await runner.setup()
    address = urlsplit(webhook_url)
    await web.TCPSite(runner, address.hostname, address.port).start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        yield
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> None:
    framework, base, token = sys.argv[1:4]
    webhook_url = sys.argv[4] if len(sys.argv) > 4 else None
    if framework == "aiogram":
        asyncio.run(aiogram_echo(base, token, webhook_url))
    else:
        ptb_echo(base, token, webhook_url)


if __name__ == "__main__":
    main()
