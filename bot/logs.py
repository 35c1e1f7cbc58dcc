"""Logging set-up: never the bot token (it is in every Bot API URL), never message text.

LOG_FORMAT=text (the default) writes one readable line per record;
LOG_FORMAT=json one JSON object per line, for a log collector: time, level,
logger, message, the worker's index, and while an update is handled its id,
the person as ``user`` (HMAC-SHA256 of the Telegram id keyed with
LOG_HASH_KEY: the same person gives the same value in every worker, and
the id cannot be recovered by trying every number without the key), the
kind of update, the flow and the state. Message text is never a field.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import traceback
from datetime import UTC, datetime
from typing import Any

from conversations import log_context

_TOKEN_IN_TEXT = re.compile(r"bot\d+:[A-Za-z0-9_-]{20,}|\d{5,}:[A-Za-z0-9_-]{30,}")

#: Extra fields code passes with ``log.x(..., extra={...})`` that are kept.
_EXTRA_FIELDS = ("update_id", "flow", "state", "error", "chat_id", "reply", "kind")


class RedactTokens(logging.Filter):
    """A last line of defence: rewrite anything that looks like a bot token."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _TOKEN_IN_TEXT.search(message):
            record.msg = _TOKEN_IN_TEXT.sub("bot<redacted>", message)
            record.args = None
        return True


class UpdateContext(logging.Filter):
    """Copies the handled update's context (conversations.log_context) into records."""

    def __init__(self, hash_key: bytes | None, worker: int | None) -> None:
        super().__init__()
        self.hash_key = hash_key
        self.worker = worker

    def filter(self, record: logging.LogRecord) -> bool:
        found = log_context.current()
        user = found.pop("user_id", None)
        if user is not None and self.hash_key is not None:
            found["user"] = user_hash(self.hash_key, int(user))
        for key, value in found.items():
            if not hasattr(record, key):
                setattr(record, key, value)
        if self.worker is not None:
            record.worker = self.worker
        return True


def safe_exception(exc_info) -> str:  # type: ignore[no-untyped-def]
    """The traceback without the exceptions' messages: where it failed and
    what type of error, never what the message said (it may quote what a
    citizen typed, a URL with the token)."""
    found = traceback.TracebackException(*exc_info)
    parts: list[str] = []
    while found is not None:
        parts.append("Traceback (most recent call last):\n" + "".join(found.stack.format())
                     + f"{_name(found)} (message left out)")
        found = found.__cause__ or (None if found.__suppress_context__ else found.__context__)
    return "\n\nwhich came from:\n".join(parts)


def _name(found: traceback.TracebackException) -> str:
    kind = found.exc_type
    return f"{kind.__module__}.{kind.__qualname__}" if kind is not None else "Exception"


def user_hash(key: bytes, telegram_id: int) -> str:
    return hmac.new(key, str(telegram_id).encode(), hashlib.sha256).hexdigest()[:16]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("worker", "user", *_EXTRA_FIELDS):
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value
        if record.exc_info:
            line["exception"] = safe_exception(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatException(self, ei) -> str:  # type: ignore[no-untyped-def]
        return safe_exception(ei)


def configure_logging(level: str = "INFO", log_format: str = "text",
                      hash_key: str | None = None, worker: int | None = None) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(RedactTokens())
    handler.addFilter(UpdateContext(hash_key.encode() if hash_key else None, worker))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # These libraries log request URLs (which carry the token) at INFO/DEBUG.
    for noisy in ("aiohttp.access", "aiohttp.client", "httpx", "httpcore", "aiogram.event",
                  "alembic.runtime.plugins", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
