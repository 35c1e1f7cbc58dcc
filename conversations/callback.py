"""Button data: one shape, ``flow:action:ids``, within Telegram's 64 bytes.

``ids`` are dot-separated. A button that moves a conversation forward also
carries ``@step``: the conversation's step counter when the button was
shown. It is valid only while the conversation is still at that step, so a
button on an older message answers "this button has expired". A counter in
the data (instead of remembering the current message id) needs no second
write after sending, and works the same in the console and in tests.

Data comes from the client: it can be old, replayed or forged. Parsing
never raises; anything malformed is ``None`` and the engine treats it as
expired.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_BYTES = 64
_TOKEN = re.compile(r"^[a-z][a-z0-9_]{0,15}$")
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True, slots=True)
class CallbackData:
    flow: str
    action: str
    ids: tuple[str, ...] = ()
    step: int | None = None

    def encode(self) -> str:
        data = f"{self.flow}:{self.action}:{'.'.join(self.ids)}"
        if self.step is not None:
            data += f"@{self.step}"
        if len(data.encode()) > MAX_BYTES:
            raise ValueError(f"callback data over {MAX_BYTES} bytes: {data!r}")
        if not (_TOKEN.match(self.flow) and _TOKEN.match(self.action)):
            raise ValueError(f"bad flow or action in {data!r}")
        if any(not _ID.match(i) for i in self.ids):
            raise ValueError(f"bad id in {data!r}")
        return data

    def id(self, index: int = 0) -> str | None:
        return self.ids[index] if index < len(self.ids) else None

    def int_id(self, index: int = 0) -> int | None:
        value = self.id(index)
        return int(value) if value is not None and value.isdigit() and len(value) < 19 else None


def parse(data: str | None) -> CallbackData | None:
    if not data or len(data.encode()) > MAX_BYTES:
        return None
    body, _, step_text = data.partition("@")
    step: int | None = None
    if step_text:
        if not step_text.isdigit() or len(step_text) > 9:
            return None
        step = int(step_text)
    parts = body.split(":")
    if len(parts) != 3:
        return None
    flow, action, ids_text = parts
    if not (_TOKEN.match(flow) and _TOKEN.match(action)):
        return None
    ids = tuple(ids_text.split(".")) if ids_text else ()
    if any(not _ID.match(i) for i in ids):
        return None
    return CallbackData(flow, action, ids, step)
