"""Helpers for HTML message text: user text is data, always escaped."""

from __future__ import annotations

import html


def escape(text: str | None) -> str:
    return html.escape(text or "", quote=False)


def reference(prefix: str, number: int) -> str:
    """A human reference such as OP-000123 (stable, sortable, easy to read aloud)."""
    return f"{prefix}-{number:06d}"


def stars(rating: int) -> str:
    return "★" * rating + "☆" * (5 - rating)


def shorten(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word with "…" (for button labels)."""
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]
    if " " in cut:
        cut = cut[:cut.rindex(" ")]
    return cut.rstrip(" ,.:;-") + "…"
