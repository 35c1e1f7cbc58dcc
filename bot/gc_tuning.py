"""Garbage collection for a long-running bot process.

Measured in bench/throughput.py (gc.callbacks timing every collection in
the bot process): CPython's cyclic collector took 16 % of the bot's CPU.
Each full collection walks every object alive, and a bot process holds
hundreds of thousands that live as long as it does: SQLAlchemy's mappers
and compiled statements, pydantic's and aiogram's models, the catalogs.

After start-up those are moved out of the collector's sight with
``gc.freeze()`` (the approach CPython documents for long-running servers),
so collections walk only what updates create. The first generation's
threshold is raised as well: an update allocates a few thousand container
objects, almost all freed by reference counting within the update, and the
default of 700 ran a collection every update or two for nothing.
Collection still runs; cycles made while serving are still freed.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000


def settle_after_start() -> None:
    """Call once the process has started serving: what exists now lives on."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
