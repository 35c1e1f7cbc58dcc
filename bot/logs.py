"""Logging set-up: never the bot token (it is in every Bot API URL), never message text."""

from __future__ import annotations

import logging
import re

_TOKEN_IN_TEXT = re.compile(r"bot\d+:[A-Za-z0-9_-]{20,}")


class RedactTokens(logging.Filter):
    """A last line of defence: rewrite anything that looks like a bot token."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _TOKEN_IN_TEXT.search(message):
            record.msg = _TOKEN_IN_TEXT.sub("bot<redacted>", message)
            record.args = None
        return True


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactTokens())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # These libraries log request URLs (which carry the token) at INFO/DEBUG.
    for noisy in ("aiohttp.access", "aiohttp.client", "httpx", "httpcore", "aiogram.event",
                  "alembic.runtime.plugins", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
