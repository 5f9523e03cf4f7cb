"""The cyclic garbage collector of a worker that folds a stream (`tally project`, `tally
replay`), serves requests (`tally api`) or decides order events (`tally fulfil`): called
once start-up is done, never at import time.

Such a process allocates a few container objects per event (the header dict, the body, the
fact and the message holding it) and frees nearly all of them by reference counting; with
the default first threshold (700) the collector still ran every few hundred events and
rescanned the batch being held, and every full collection walked the whole start-up heap
(modules, models, the clients). Measured on the arrival path alone (parse, decode, fold of
20,000 ORDERS messages): ~14 µs a message by default, ~11.5 with the start-up heap frozen,
~9.5 with a first threshold of 20,000 as well (docs/benchmarks.md, issue 14). Cycles are
still collected, later: a young generation holds at most a few MB of them. In the API the
collector was ~2.4-3.7 µs of each command (measured with `gc.callbacks` over 15,000
in-process receives or orders: a young collection every ~500 commands, ~1.5 ms each,
rescanning the commands in flight and the cache's recent states); none in 15,000 with it.
In `tally fulfil` (measured with `gc.callbacks`, three drained runs of ~20,000 orders one
after the other in one process) the collector took 145, 252 and 402 µs of each order, more
as the command cache filled with folded states: every young collection rescanned the
orders in flight and each full one the whole cache; ~17 µs, 23 µs and none with it.
"""

import gc

YOUNG_THRESHOLD = 20_000  # allocations between two collections of the youngest generation


def settle_heap() -> None:
    """Collect once, move what start-up left to the permanent generation (never scanned
    again) and raise the first threshold."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, oldest)
