"""One lock per key (an order, a SKU), there only while someone holds or awaits it.

Taken three times per order (the order, each SKU), nearly always free: a free key costs a
dict entry and no future, task switch or generator. Waiters queue first come, first
served, and the lock passes to the next waiter directly when released.
"""

import asyncio
import collections
from types import TracebackType

_Waiters = collections.deque[asyncio.Future[None]]


class KeyedLocks:
    def __init__(self) -> None:
        self._held: dict[str, _Waiters] = {}  # key -> those waiting for it

    def __len__(self) -> int:
        return len(self._held)

    def hold(self, key: str) -> "_Hold":
        """`async with locks.hold(key):` the key's lock, for the block."""
        return _Hold(self._held, key)


class _Hold:
    __slots__ = ("_held", "_key")

    def __init__(self, held: dict[str, _Waiters], key: str) -> None:
        self._held, self._key = held, key

    async def __aenter__(self) -> None:
        waiters = self._held.get(self._key)
        if waiters is None:
            self._held[self._key] = collections.deque()
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.cancelled():
                waiters.remove(turn)  # still waiting: leave the queue
            else:
                self._release()  # handed the lock as we were cancelled: pass it on
            raise

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._release()

    def _release(self) -> None:
        waiters = self._held[self._key]
        while waiters:
            turn = waiters.popleft()
            if not turn.done():
                turn.set_result(None)  # the lock is theirs now
                return
        del self._held[self._key]
