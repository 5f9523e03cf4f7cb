"""Time limits of many waits on one loop, kept by one timer.

A timer per request (`loop.call_later`, then `cancel`) was ~4 % of fulfilment's CPU under
uvloop, where each is a libuv timer made, started and stopped. Here a wait's limit is an
entry in a queue, left there when the wait ends (the entry then finds its future done), and
one timer, set for the earliest limit of a wait still running, fails what is due with
TimeoutError.

Waits of the same length fall due in the order they began, so each length has a queue in
that order (a deque: an entry in and out costs a constant, where a heap of the ~15,000
limits a second of appends keeps cost ~20 comparisons each). When the timer fires it drops
the ended waits at the front of each queue as well as the due ones, and is set again for
the first wait still running: most waits end within milliseconds, so it fires about once
per limit's length, not once per loop iteration (a timer made and started each time, when
it was set for the next limit in the heap, ended or not).

A limit that passes while the loop is stalled (a process starved of CPU on a busy machine,
or busy itself) does not end its wait at once: the answers that came in meanwhile are still
unread in the socket (uvloop runs due timers before it polls for input), and an append
reported as timed out although it was stored is repeated, met as a duplicate and paid
with a reload. So when the timer fires LATE or more behind its time, what is due is looked
at again GRACE later, after the loop has read what waited (once per stall).
"""

import asyncio
from collections import deque
from typing import Any

LATE = 0.05  # a timer this much behind its time was held up by a stalled loop
GRACE = 0.1  # then what is due is looked at again this much later


class Deadlines:
    """`add(future, timeout)`: `future` fails with TimeoutError `timeout` seconds from now
    unless it is done by then (give or take a stall's grace)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        # by the wait's length: (due, future) in the order added, so in the order due
        self._queues: dict[float, deque[tuple[float, asyncio.Future[Any]]]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._planned = 0.0
        self._graced = False

    def add(self, future: asyncio.Future[Any], timeout: float) -> None:
        due = self._loop.time() + timeout
        queue = self._queues.get(timeout)
        if queue is None:
            queue = self._queues[timeout] = deque()
        queue.append((due, future))
        if self._timer is None or due < self._planned:
            self._plan(due)

    def __len__(self) -> int:
        """Limits still kept (some of them of waits that have ended)."""
        return sum(len(queue) for queue in self._queues.values())

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
        earliest: float | None = None
        for timeout, queue in list(self._queues.items()):
            while queue:
                due, future = queue[0]
                if not future.done():
                    if due > now:
                        break
                    future.set_exception(TimeoutError())
                queue.popleft()
            if not queue:
                del self._queues[timeout]
            elif earliest is None or queue[0][0] < earliest:
                earliest = queue[0][0]
        if earliest is not None:
            self._plan(earliest)
