"""What a replay ends in: its result, or why it did not swap (`projections.replay`)."""

from dataclasses import dataclass

from projections.replay_check import Comparison


class ReplayBusy(Exception):
    """Another replay of the same projection is running."""


class ReplayStopped(Exception):
    """Asked to stop before the swap: the old view is untouched."""


class ReplayDiffers(Exception):
    """The rebuild differs from the live view and was asked to be equal: not swapped."""

    def __init__(self, comparison: Comparison) -> None:
        super().__init__("the rebuild differs from the live view; not swapped")
        self.comparison = comparison


class ReplayNotComparable(Exception):
    """The live view did not reach the rebuild's position in time to be compared."""


@dataclass(frozen=True)
class ReplayResult:
    position: int
    events: int
    skipped: int
    comparison: Comparison | None = None  # None: not compared (see `uncompared`)
    swapped: bool = True
    uncompared: str = ""  # why it was not compared
    compare_seconds: float = 0.0  # spent comparing (the projectors held)
