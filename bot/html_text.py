"""Splitting HTML message text within Telegram's 4,096 characters.

Telegram counts the text after entity parsing (``&lt;`` is one character,
tags count nothing). Parts break at a newline or a space where possible;
tags open at a break are closed at the end of one part and opened again at
the start of the next, so every part parses on its own.
"""

from __future__ import annotations

import html
import re

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024

_ATOM = re.compile(r"<[^>]*>|&#?[A-Za-z0-9]+;|.", re.DOTALL)
_TAG = re.compile(r"<(/?)([A-Za-z-]+)")


def visible_length(text: str) -> int:
    return len(html.unescape(re.sub(r"<[^>]*>", "", text)))


def split_html(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    if visible_length(text) <= limit:
        return [text]
    parts: list[str] = []
    current: list[str] = []
    used = 0
    open_tags: list[tuple[str, str]] = []  # (name, opening tag as written)
    last_break: tuple[int, int, list[tuple[str, str]]] | None = None

    def close(tags: list[tuple[str, str]]) -> str:
        return "".join(f"</{name}>" for name, _ in reversed(tags))

    for atom in _ATOM.findall(text):
        tag = _TAG.match(atom) if atom.startswith("<") else None
        if tag:
            if tag.group(1):
                if open_tags and open_tags[-1][0] == tag.group(2):
                    open_tags.pop()
            else:
                open_tags.append((tag.group(2), atom))
            current.append(atom)
            continue
        if used >= limit:
            cut, cut_used, tags_at_cut = last_break or (len(current), used, list(open_tags))
            parts.append("".join(current[:cut]) + close(tags_at_cut))
            current = [opening for _, opening in tags_at_cut] + current[cut:]
            used -= cut_used
            last_break = None
        current.append(atom)
        used += 1
        if atom in ("\n", " "):
            last_break = (len(current), used, list(open_tags))
    parts.append("".join(current))
    return [p.strip() for p in parts if visible_length(p).__bool__() and p.strip()]


def truncate_html(text: str, limit: int) -> str:
    """The first part only, marked as cut (for edits and captions, which cannot split)."""
    parts = split_html(text, limit - 1)
    return parts[0] + ("…" if len(parts) > 1 else "")
