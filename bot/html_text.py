"""Splitting HTML message text within Telegram's 4,096 characters.

Telegram counts the text after entity parsing (``&lt;`` is one character,
tags count nothing). Parts break at a newline or a space where possible;
tags open at a break are closed at the end of one part and opened again at
the start of the next, so every part parses on its own.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

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


# -- a received message's entities back to HTML ---------------------------------

_SIMPLE_TAGS = {"bold": "b", "italic": "i", "underline": "u", "strikethrough": "s",
                "spoiler": "tg-spoiler", "code": "code", "blockquote": "blockquote"}


def _tags(entity: Any) -> tuple[str, str] | None:
    """The opening and closing HTML of one entity (None: shown as plain text,
    like mentions, hashtags and bare links, which Telegram detects again)."""
    kind = str(entity.type)
    if kind in _SIMPLE_TAGS:
        tag = _SIMPLE_TAGS[kind]
        return f"<{tag}>", f"</{tag}>"
    if kind == "expandable_blockquote":
        return "<blockquote expandable>", "</blockquote>"
    if kind == "pre":
        language = getattr(entity, "language", None)
        if language:
            return (f'<pre><code class="language-{html.escape(language)}">',
                    "</code></pre>")
        return "<pre>", "</pre>"
    if kind == "text_link" and getattr(entity, "url", None):
        return f'<a href="{html.escape(entity.url)}">', "</a>"
    if kind == "text_mention" and getattr(entity, "user", None) is not None:
        return f'<a href="tg://user?id={int(entity.user.id)}">', "</a>"
    if kind == "custom_emoji" and getattr(entity, "custom_emoji_id", None):
        return f'<tg-emoji emoji-id="{html.escape(entity.custom_emoji_id)}">', "</tg-emoji>"
    return None


def entities_html(text: str, entities: Sequence[Any] | None) -> str:
    """A message's text with its formatting entities as Telegram HTML, so that
    sending it back with parse mode HTML shows it as the person wrote it.

    Offsets and lengths count UTF-16 code units, as the Bot API does.
    Entities nest; one that closes while others opened inside it are still
    open closes them first and opens them again after (valid HTML either way).
    """
    units = text.encode("utf-16-le")
    marks = []
    for index, entity in enumerate(entities or ()):
        tags = _tags(entity)
        if tags is not None and entity.length > 0:
            marks.append((entity.offset, entity.offset + entity.length, index, tags))
    marks.sort(key=lambda mark: (mark[0], -mark[1], mark[2]))
    bounds = sorted({0, len(units) // 2} | {b for mark in marks for b in mark[:2]})
    out: list[str] = []
    stack: list[tuple[int, int, int, tuple[str, str]]] = []
    pending = list(marks)
    for position, end in zip(bounds, [*bounds[1:], None], strict=True):
        # Close what ends here, innermost first.
        while any(mark[1] <= position for mark in stack):
            reopen = []
            while stack[-1][1] > position:
                inner = stack.pop()
                out.append(inner[3][1])
                reopen.append(inner)
            out.append(stack.pop()[3][1])
            for inner in reversed(reopen):
                out.append(inner[3][0])
                stack.append(inner)
        while pending and pending[0][0] == position:
            mark = pending.pop(0)
            out.append(mark[3][0])
            stack.append(mark)
        if end is not None:
            out.append(html.escape(units[position * 2:end * 2].decode("utf-16-le"),
                                   quote=False))
    for mark in reversed(stack):
        out.append(mark[3][1])
    return "".join(out)
