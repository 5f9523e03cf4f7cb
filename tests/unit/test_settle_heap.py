"""`settle_heap` (what `tally api`, `tally project`, `tally replay` and `tally fulfil` call
once started): what start-up left is frozen out of the collector's scans and the youngest
generation is collected after YOUNG_THRESHOLD allocations, not 700."""

import gc

from tally.roles.heap import YOUNG_THRESHOLD, settle_heap


def test_the_start_up_heap_is_frozen_and_the_first_threshold_raised() -> None:
    before = gc.get_threshold()
    try:
        settle_heap()
        assert gc.get_freeze_count() > 0
        threshold = gc.get_threshold()
        assert threshold == (YOUNG_THRESHOLD, before[1], before[2])
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
