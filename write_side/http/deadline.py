"""Commands' deadlines: `asyncio.timeout`'s semantics as plain context managers, kept by
one timer for all the commands of a loop.

`asyncio.timeout` is an async context manager (two coroutines a use) whose enter and exit
cost ~8 µs together, on every command; a timer of its own per command (`call_later`, then
`cancel`: a libuv timer made, started and stopped) still cost ~3-4 µs. Every command of a
route waits the same number of seconds, so their deadlines fall due in the order they
were set: they are kept in a queue, and one timer, set for the oldest deadline still
running, cancels the task of each that passes. A command that ends marks its entry done
(the entry leaves the queue when the timer next comes by). The cancellation a deadline
caused (and only that one) comes out as TimeoutError, the task's cancel count restored
(`uncancel`), so an outer cancellation still propagates.
"""

import asyncio
from collections import deque
from types import TracebackType


class Deadline:
    """One command's deadline: entered by `Deadlines()`, left at the end of the `with`."""

    __slots__ = ("_cancelling", "_expired", "_task", "due")

    def __init__(self, task: "asyncio.Task[object]", due: float) -> None:
        self._task: asyncio.Task[object] | None = task
        self._cancelling = task.cancelling()
        self._expired = False
        self.due = due

    @property
    def running(self) -> bool:
        return self._task is not None

    def expire(self) -> None:
        if self._task is not None:
            self._expired = True
            self._task.cancel()  # uncancelled on exit

    def __enter__(self) -> "Deadline":
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        task, self._task = self._task, None  # done: the queue drops it (and the task)
        if not self._expired or task is None:
            return
        # uncancel first, whatever came out (as asyncio.timeout does)
        if task.uncancel() <= self._cancelling and kind is asyncio.CancelledError:
            raise TimeoutError from error


class Deadlines:
    """`with deadlines():` fails the work inside with TimeoutError once `seconds` have
    passed (each use its own deadline, all of the same length)."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: deque[Deadline] = deque()
        self._timer: asyncio.TimerHandle | None = None

    def __call__(self) -> Deadline:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # first use, or another loop (tests): start afresh
            self._loop, self._queue, self._timer = loop, deque(), None
        task = asyncio.current_task(loop)
        if task is None:
            raise RuntimeError("a deadline needs a running task")
        deadline = Deadline(task, loop.time() + self._seconds)
        self._queue.append(deadline)
        if self._timer is None:
            self._timer = loop.call_at(deadline.due, self._fire)
        return deadline

    def __len__(self) -> int:
        """Deadlines still queued (some of them of commands that have ended)."""
        return len(self._queue)

    def _fire(self) -> None:
        self._timer = None
        loop, queue = self._loop, self._queue
        if loop is None:
            return
        now = loop.time()
        while queue:
            oldest = queue[0]
            if oldest.running and oldest.due > now:
                self._timer = loop.call_at(oldest.due, self._fire)
                return
            queue.popleft()
            if oldest.running:
                oldest.expire()
