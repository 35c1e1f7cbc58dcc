"""How long /stats takes to draw its five charts (matplotlib, Agg, 1000×600 px).

    .venv/bin/python bench/stats_charts.py [--runs 5]

The figures are a busy lab's (six services, four workshops, every proposal
status). The drawing runs after the event's transaction commits, in a worker
thread (a Deferred reply): neither the event loop nor the database waits for
it; only the staff member does. Target: under 1 s for the five charts.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

from conversations.flows.lab_reports import sections
from conversations.i18n import translator
from storage.stats import (
    BestProposal,
    LabStats,
    Participants,
    Period,
    ProposalFigures,
    ServiceOpinions,
    TicketFigures,
    WorkshopFigures,
)


def busy_lab() -> LabStats:
    return LabStats(
        "lab", "Lab", Period(None, None), Participants(1234, 800, 300, 900, 120),
        [ServiceOpinions(f"s{i}", f"Service number {i}", (i * 10, 20, 30, 40, 50))
         for i in range(6)],
        ProposalFigures({"pending": 3, "published": 40, "under_study": 5, "accepted": 7,
                         "rejected": 4, "implemented": 2},
                        [BestProposal(f"PR-00000{i}", f"Proposal {i}", 30, 4.5, 4.2)
                         for i in range(3)]),
        [WorkshopFigures(f"w{i}", f"Workshop {i}", datetime(2026, 11, 1, tzinfo=UTC), 20, 15,
                         10, 4.2) for i in range(4)],
        TicketFigures(1200, 1000, (10, 20, 100, 300, 400)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    figures, t = busy_lab(), translator("es")
    sections(figures, t)  # fonts and caches warm up once per process
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        replies = sections(figures, t)
        times.append(time.perf_counter() - start)
    print(f"five charts ({len(replies)} replies): median {statistics.median(times):.2f} s, "
          f"worst {max(times):.2f} s over {runs} runs (target < 1 s)")


if __name__ == "__main__":
    main()
