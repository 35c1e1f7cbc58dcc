"""Prometheus metrics, served by the operations listener at /metrics.

With several workers (``participa run --workers N``) each process writes its
figures to files in PROMETHEUS_MULTIPROC_DIR (the supervisor sets it up) and
/metrics on any worker adds up all of them; a single process without that
setting keeps them in memory. The outbox depth is read from the database at
scrape time (it is the same for every worker, so it is not summed).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from storage.send_limits import Priority

UPDATES = Counter("participa_updates", "Updates handled, by kind (text, button, command...)",
                  ["kind"])
DUPLICATES = Counter("participa_duplicate_updates",
                     "Updates delivered again and recognised as already handled")
HANDLER_SECONDS = Histogram(
    "participa_handler_seconds", "Time to handle one update (engine and replies), by kind",
    ["kind"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
ERRORS = Counter("participa_errors",
                 "Updates not handled: reason=handler (a bug: the citizen was told), "
                 "unavailable (storage or Redis down: left for redelivery), other",
                 ["reason"])
OUTBOX_SENT = Counter("participa_outbox_sent", "Outbox messages sent, by priority",
                      ["priority"])
TELEGRAM_ANSWERS = Counter(
    "participa_telegram_answers",
    "What Telegram answered to outbox sends: 200, 429, 403, 400, or error (5xx, network)",
    ["code"])

PRIORITY_NAMES = {int(p): p.name.lower() for p in Priority}
DELIVERY_CODES = {"sent": "200", "blocked": "403", "moved": "400", "failed": "400"}


def priority_name(priority: int) -> str:
    return PRIORITY_NAMES.get(priority, str(priority))


def delivery_code(outcome: str, retry_after: float | None) -> str:
    if outcome == "retry":
        return "429" if retry_after is not None else "error"
    return DELIVERY_CODES.get(outcome, "error")


OutboxDepth = Callable[[], Awaitable[dict[int, int]]]


class _Depth(Collector):
    def __init__(self, depth: dict[int, int]) -> None:
        self.depth = depth

    def collect(self):  # type: ignore[no-untyped-def]
        family = GaugeMetricFamily("participa_outbox_depth",
                                   "Outbox messages waiting to be sent, by priority",
                                   labels=["priority"])
        for priority in Priority:
            family.add_metric([priority_name(priority)], self.depth.get(int(priority), 0))
        yield family


def registry_for_scrape(depth: dict[int, int] | None) -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_Everything())
    if depth is not None:
        registry.register(_Depth(depth))
    return registry


class _Everything(Collector):
    """The process's own default registry, inside a registry of one scrape."""

    def collect(self):  # type: ignore[no-untyped-def]
        yield from REGISTRY.collect()


def render(depth: dict[int, int] | None) -> tuple[bytes, str]:
    return generate_latest(registry_for_scrape(depth)), CONTENT_TYPE_LATEST
