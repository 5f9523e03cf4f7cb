"""What a replay has taken and folded into its shadow so far (`projections.replay`): the
stream position it reached, the events it took, how many of them it did not apply (dead,
parked or dropped), and per partition the applied and not applied ones, from which each
checkpoint row's audit counters are set at the swap.

A swap attempt that rolls back restores the tally it started from (`copy`), together with
putting back the messages it took."""

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from projections.base import Projection
from projections.batch import Counted
from projections.messages import StoredMessage
from projections.partitions import ViewPartition


@dataclass
class ShadowTally:
    partitioned: bool  # the view's stream is split: subjects `<prefix>.<partition>.<id>`
    position: int = 0
    events: int = 0
    skipped: int = 0  # not applied: dead, parked or dropped
    counts: Counter[tuple[int | None, bool]] = field(default_factory=Counter)  # (partition, dead)

    def fresh(self, batch: Sequence[StoredMessage]) -> list[StoredMessage]:
        """What follows the position (a source re-created after a gap may deliver the last
        ones again); the position moves past them."""
        newer = [message for message in batch if message.seq > self.position]
        if newer:
            self.position = max(self.position, max(message.seq for message in newer))
        return newer

    def record(self, messages: Sequence[StoredMessage], dead: Collection[int]) -> None:
        """`messages` folded, those whose sequence is in `dead` not applied."""
        self.skipped += len(dead)
        self.events += len(messages)
        for message in messages:
            self.counts[self._partition(message), message.seq in dead] += 1

    def _partition(self, message: StoredMessage) -> int | None:
        """The partition a message is stored in (`orders.<p>.<id>`), None: not partitioned."""
        return int(message.subject.split(".")[1]) if self.partitioned else None

    def counted(self, row: Projection) -> Counted:
        """The audit counters of a checkpoint row, for the whole rebuilt view."""
        partition = row.partition if isinstance(row, ViewPartition) else None
        applied, dead = self.counts[partition, False], self.counts[partition, True]
        return Counted(applied, dead, self.events - applied - dead)

    def copy(self) -> "ShadowTally":
        return ShadowTally(
            self.partitioned, self.position, self.events, self.skipped, self.counts.copy()
        )
