"""What the log lines written while handling one update say about it.

The pipeline sets the update id and the person; the engine adds the flow
and state once it has loaded them. A logging filter (bot.logs) copies them
into every record written meanwhile, so a line deep in a flow still says
which update it belongs to. Context variables follow each update's task,
so concurrent updates do not mix.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

_current: ContextVar[dict[str, Any] | None] = ContextVar("participa_log_context", default=None)


def begin(**fields: Any) -> None:
    """A new update: forget what the last one in this task said."""
    _current.set(dict(fields))


def add(**fields: Any) -> None:
    found = _current.get()
    if found is None:
        _current.set(dict(fields))
    else:
        found.update(fields)


def current() -> dict[str, Any]:
    return dict(_current.get() or {})
