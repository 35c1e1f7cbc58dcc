"""``participa console``: every journey in a terminal, same engine and database.

Buttons are numbered: type the number to press one, or type text, a
/command, or ``:photo``, ``:voice``, ``:sticker``, ``:location`` to send
that kind of message. ``:quit`` (or end of input) leaves.
"""

from __future__ import annotations

import asyncio
import html
import re
import sys
from dataclasses import dataclass, field
from typing import TextIO

from conversations.engine import Engine
from conversations.vocabulary import (
    Answer,
    Chat,
    Document,
    Edit,
    Event,
    Keyboard,
    Leave,
    Media,
    Photo,
    Reply,
    Send,
    Who,
)

_TAGS = re.compile(r"<[^>]+>")
MEDIA_WORDS = {":photo": "photo", ":voice": "voice", ":sticker": "sticker",
               ":location": "location", ":document": "document", ":video": "video"}


def plain(text: str) -> str:
    return html.unescape(_TAGS.sub("", text))


@dataclass
class ConsoleSession:
    engine: Engine
    out: TextIO
    user: Who
    buttons: list[tuple[str, str, int]] = field(default_factory=list)  # label, data, message
    message_id: int = 0
    last_shown: int = 0

    def event(self, line: str) -> Event | None:
        chat = Chat(self.user.id)
        common = {"update_id": None, "chat": chat, "user": self.user, "channel": "console"}
        line = line.strip()
        if line.isdigit() and 1 <= int(line) <= len(self.buttons):
            _, data, message_id = self.buttons[int(line) - 1]
            return Event(kind="button", data=data, callback_id="console",
                         message_id=message_id, **common)
        if line in MEDIA_WORDS:
            kind = MEDIA_WORDS[line]
            return Event(kind="media", media=Media(kind, f"console-{kind}"),  # type: ignore[arg-type]
                         **common)
        if line.startswith("/") and len(line) > 1:
            command, _, args = line[1:].partition(" ")
            return Event(kind="command", text=line, command=command.lower(), args=args,
                         **common)
        if not line:
            return None
        return Event(kind="text", text=line, **common)

    def show(self, event: Event, replies: list[Reply]) -> None:
        for reply in replies:
            match reply:
                case Answer(text=text) if text:
                    self._print(f"  ({plain(text)})")
                case Send(text=text, buttons=buttons):
                    self.message_id += 1
                    self._message(text, buttons, self.message_id)
                case Edit(text=text, buttons=buttons):
                    self._message(text, buttons, event.message_id or self.message_id)
                case Document(name=name, content=content):
                    self._print(f"[file {name}, {len(content)} bytes]")
                case Photo(caption=caption):
                    self._print(f"[photo] {plain(caption or '')}")
                case Leave():
                    self._print("[the bot leaves this chat]")

    def _message(self, text: str, buttons: Keyboard, message_id: int) -> None:
        self._print("")
        self._print(plain(text))
        if buttons:
            self.buttons = [(b.label, b.data, message_id) for row in buttons for b in row]
            number = 0
            for row in buttons:
                labels = []
                for b in row:
                    number += 1
                    labels.append(f"[{number}] {b.label}")
                self._print("   ".join(labels))

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)


async def run_console(engine: Engine, *, user_id: int, language: str | None,
                      stdin: TextIO = sys.stdin, out: TextIO = sys.stdout) -> None:
    session = ConsoleSession(engine, out, Who(user_id, "console", language, "Console"))
    print("Participa console. Type the number of a button, text, a /command, "
          ":photo, :voice or :sticker. :quit leaves.", file=out, flush=True)
    pending = "/start"
    while True:
        line = pending if pending is not None else await asyncio.to_thread(stdin.readline)
        pending = None
        if line == "" or line.strip() == ":quit":
            return
        event = session.event(line)
        if event is None:
            continue
        outcome = await engine.handle(event)
        session.show(event, outcome.replies)
