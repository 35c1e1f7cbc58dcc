"""SQLite run in the event loop's own thread, behind SQLAlchemy's aiosqlite dialect.

aiosqlite runs every call (execute, fetch, cursor close, commit) in a
thread of its own and hands the result back through the event loop: a
queue put, a thread wake-up, a write to the loop's self-pipe and a loop
iteration per call, about 26 of them per update. Profiling
bench/throughput.py on SQLite put a third of the bot's CPU in that thread
and in the hand-offs, more than SQLAlchemy and the statements themselves.

The thread buys nothing here: the engine keeps one pooled SQLite
connection (storage/database.py), so every unit of work already waits its
turn for it, and the statements of an update take microseconds. This
module gives SQLAlchemy's aiosqlite dialect (``async_creator``) a
connection with aiosqlite's interface whose calls run ``sqlite3`` directly:
no thread, no hand-off.

Waiting for the write lock is the one thing that must not block the loop.
Another process (the CLI, a second bot by mistake) can hold it for a
while; SQLite's own busy handler would sleep in C and freeze every
conversation, the health checks and the webhook. So the busy timeout is
zero and a locked database is waited for here with ``asyncio.sleep``, up to
the same ``SQLITE_BUSY_TIMEOUT_MS`` as before. Retrying is safe: a
statement refused with SQLITE_BUSY did nothing.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

BUSY_FIRST_WAIT_S = 0.002
BUSY_LONGEST_WAIT_S = 0.1


def _is_busy(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(error) or "busy" in str(error)


class Busy:
    """Runs a call, waiting in the event loop while the database is locked."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s

    async def run(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except sqlite3.OperationalError as error:
            if not _is_busy(error):
                raise
        deadline = time.monotonic() + self.timeout_s
        wait = BUSY_FIRST_WAIT_S
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return call()  # the last try: its error is the caller's
            await asyncio.sleep(min(wait, left))
            wait = min(wait * 2, BUSY_LONGEST_WAIT_S)
            try:
                return call()
            except sqlite3.OperationalError as error:
                if not _is_busy(error):
                    raise


class InlineCursor:
    """aiosqlite's Cursor interface over a sqlite3 cursor."""

    def __init__(self, cursor: sqlite3.Cursor, busy: Busy) -> None:
        self._cursor = cursor
        self._busy = busy

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        cursor = self._cursor
        await self._busy.run(lambda: cursor.execute(sql, parameters or ()))
        return self

    async def executemany(self, sql: str, parameters: Any) -> InlineCursor:
        cursor = self._cursor
        await self._busy.run(lambda: cursor.executemany(sql, parameters))
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    async def nextset(self) -> None:
        return None

    async def setinputsizes(self, *sizes: Any) -> None:
        return None

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class InlineConnection:
    """aiosqlite's Connection interface (what SQLAlchemy's adapter calls) over sqlite3."""

    def __init__(self, connection: sqlite3.Connection, busy: Busy) -> None:
        self._conn = connection
        self._busy = busy
        self._closed = False

    @property
    def _connection(self) -> sqlite3.Connection | None:
        # SQLAlchemy's adapter skips commit/rollback when this is None (closed),
        # as aiosqlite's is once closed.
        return None if self._closed else self._conn

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._conn.isolation_level = value

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor(), self._busy)

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        cursor = self.cursor()
        return await cursor.execute(sql, parameters)

    async def commit(self) -> None:
        await self._busy.run(self._conn.commit)

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        self._closed = True
        self._conn.close()

    async def create_function(self, *args: Any, **kw: Any) -> None:
        self._conn.create_function(*args, **kw)


def connector(connect_args: Callable[[], tuple[Sequence[Any], dict[str, Any]]],
              busy_timeout_s: float) -> Callable[[], Any]:
    """An ``async_creator`` for create_async_engine: ``connect_args`` gives what
    the dialect would pass to sqlite3.connect (file name, URI flag...)."""
    busy = Busy(busy_timeout_s)

    async def connect() -> InlineConnection:
        args, kwargs = connect_args()
        # The loop waits for locks (above), never SQLite's busy handler; no
        # BEGIN from the driver: storage/database.py emits BEGIN IMMEDIATE.
        kwargs = {**kwargs, "timeout": 0, "check_same_thread": False,
                  "isolation_level": None}
        connection = await busy.run(lambda: sqlite3.connect(*args, **kwargs))
        return InlineConnection(connection, busy)

    return connect
