"""One lock per key (an order), there only while someone holds or awaits it: the command
service's turns per subject (`write_side/subject_turns.py`) as an `async with` block.

Taken once per order event and nearly always free: a free key costs a dict entry and no
future, task switch or generator. Waiters queue first come, first served.
"""

from types import TracebackType

from write_side.subject_turns import SubjectTurns


class KeyedLocks:
    def __init__(self) -> None:
        self._turns = SubjectTurns()

    def __len__(self) -> int:
        return len(self._turns)

    def hold(self, key: str) -> "_Hold":
        """`async with locks.hold(key):` the key's lock, for the block."""
        return _Hold(self._turns, key)


class _Hold:
    __slots__ = ("_key", "_turns")

    def __init__(self, turns: SubjectTurns, key: str) -> None:
        self._turns, self._key = turns, key

    async def __aenter__(self) -> None:
        await self._turns.take(self._key)

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._turns.give_back(self._key)
