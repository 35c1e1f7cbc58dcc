"""Sliding-window rate limits, as Telegram applies flood control to sends."""

from __future__ import annotations

import math
from collections import deque


class SlidingWindow:
    """Timestamps of accepted sends within the last ``window`` seconds.

    A sliding window, not a fixed bucket: ``limit`` sends are allowed in any
    interval of ``window`` seconds, so a burst at the end of one second and
    another at the start of the next is refused, as Telegram refuses it.
    """

    def __init__(self, window: float) -> None:
        self.window = window
        self._times: deque[float] = deque()

    def _prune(self, now: float) -> None:
        while self._times and self._times[0] <= now - self.window:
            self._times.popleft()

    def retry_after(self, now: float, limit: int) -> int | None:
        """Whole seconds to wait before one more send is allowed; None if allowed now."""
        self._prune(now)
        if len(self._times) < limit:
            return None
        # The send that frees a slot is the oldest one still inside the window.
        wait = self._times[len(self._times) - limit] + self.window - now
        # Telegram always answers a whole number of seconds, at least 1.
        return max(1, math.ceil(wait))

    def add(self, now: float) -> None:
        self._prune(now)  # keeps memory bounded while no limit is checked
        self._times.append(now)

    def __len__(self) -> int:
        return len(self._times)
