"""Time limits of many waits on one loop, kept by one timer.

A timer per request (`loop.call_later`, then `cancel`) was ~4 % of fulfilment's CPU under
uvloop, where each is a libuv timer made, started and stopped. Here a wait's limit is an
entry in a heap, left there when the wait ends (the entry then finds its future done), and
one timer, set for the earliest limit, fails what is due with TimeoutError.

A limit that passes while the loop is stalled (a process starved of CPU on a busy machine,
or busy itself) does not end its wait at once: the answers that came in meanwhile are still
unread in the socket (uvloop runs due timers before it polls for input), and an append
reported as timed out although it was stored is repeated, met as a duplicate and paid
with a reload. So when the timer fires LATE or more behind its time, what is due is looked
at again GRACE later, after the loop has read what waited (once per stall).
"""

import asyncio
import heapq
import itertools
from typing import Any

LATE = 0.05  # a timer this much behind its time was held up by a stalled loop
GRACE = 0.1  # then what is due is looked at again this much later


class Deadlines:
    """`add(future, timeout)`: `future` fails with TimeoutError `timeout` seconds from now
    unless it is done by then (give or take a stall's grace)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._heap: list[tuple[float, int, asyncio.Future[Any]]] = []
        self._order = itertools.count()  # ties broken by arrival, never by future
        self._timer: asyncio.TimerHandle | None = None
        self._planned = 0.0
        self._graced = False

    def add(self, future: asyncio.Future[Any], timeout: float) -> None:
        due = self._loop.time() + timeout
        heapq.heappush(self._heap, (due, next(self._order), future))
        if self._timer is None or due < self._planned:
            self._plan(due)

    def __len__(self) -> int:
        """Limits still kept (some of them of waits that have ended)."""
        return len(self._heap)

    def _plan(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._planned = when
        self._timer = self._loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._timer = None
        now = self._loop.time()
        if now - self._planned > LATE and not self._graced:
            self._graced = True  # stalled: let the loop read what came in first
            self._plan(now + GRACE)
            return
        self._graced = False
        heap = self._heap
        while heap and heap[0][0] <= now:
            future = heapq.heappop(heap)[2]
            if not future.done():
                future.set_exception(TimeoutError())
        if heap:
            self._plan(heap[0][0])
