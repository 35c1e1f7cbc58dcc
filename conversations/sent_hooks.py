"""Hooks told the Telegram message id of a queued message once it was sent.

A flow that needs the id (a ticket posted in the moderators' group, to
recognise replies to it) queues its Notify with ``on_sent="name:arg"`` and
registers a hook under that name. The outbox sender runs the hook in its
own transaction after the send, in whichever process sent it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from storage.unit_of_work import UnitOfWork

SentHook = Callable[[UnitOfWork, str, int | None], Awaitable[None]]
HOOKS: dict[str, SentHook] = {}


def sent_hook(name: str) -> Callable[[SentHook], SentHook]:
    def register(hook: SentHook) -> SentHook:
        HOOKS[name] = hook
        return hook
    return register


def find(on_sent: str) -> tuple[SentHook, str] | None:
    name, _, arg = on_sent.partition(":")
    hook = HOOKS.get(name)
    return (hook, arg) if hook else None
