"""The bot process hides what lives as long as it does from the garbage collector."""

from __future__ import annotations

import gc

from bot import gc_tuning


def test_the_serving_process_hides_its_start_up_objects_from_the_collector():
    threshold = gc.get_threshold()
    try:
        gc_tuning.settle_after_start()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] == gc_tuning.YOUNG_THRESHOLD
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
