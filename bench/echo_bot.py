"""The bare bot bench/throughput.py compares Participa with: echo, no database.

    .venv/bin/python bench/echo_bot.py aiogram|ptb API_BASE TOKEN

A few lines of each framework as its documentation shows them, long
polling, updates handled concurrently (aiogram does by default; PTB needs
``concurrent_updates``, without which it handles one update at a time and
the comparison would flatter Participa).
"""

from __future__ import annotations

import asyncio
import sys


async def aiogram_echo(base: str, token: str) -> None:
    from aiogram import Bot, Dispatcher
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.types import Message

    bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(base)))
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text or "?")

    await dispatcher.start_polling(bot, polling_timeout=2)


def ptb_echo(base: str, token: str) -> None:
    from telegram import Update
    from telegram.ext import Application, ContextTypes, MessageHandler, filters

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None
        await context.bot.send_message(message.chat_id, message.text or "?")

    application = (Application.builder().token(token).base_url(f"{base}/bot")
                   .concurrent_updates(True).build())
    application.add_handler(MessageHandler(filters.ALL, echo))
    application.run_polling(timeout=2, poll_interval=0)


def main() -> None:
    framework, base, token = sys.argv[1:4]
    if framework == "aiogram":
        asyncio.run(aiogram_echo(base, token))
    else:
        ptb_echo(base, token)


if __name__ == "__main__":
    main()
