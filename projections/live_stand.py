"""Where a live view stands, partition by partition: what a rebuild must hold to be compared
with it row for row.

A whole view holds every event up to its checkpoint. A partition holds every event of its
own partition up to its checkpoint (the stream sequence of the last one it applied), none
after; a partition that had nothing new for a while stands at an old sequence and is still
complete up to its next unapplied event. So a rebuild that applied the whole stream up to
`S` equals the live view when no partition has an unapplied event at or before `S`, and it
applied, of the events after `S`, exactly those at or before their partition's checkpoint.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from events.subjects import SUBJECT_PREFIX
from projections.base import Projection
from projections.messages import StoredMessage
from projections.partitions import ViewPartition


@dataclass(frozen=True)
class LiveStand:
    stream: str
    positions: Mapping[int | None, int]  # partition (None: the whole view) -> checkpoint

    @classmethod
    def of(cls, rows: Sequence[Projection], checkpoints: Mapping[str, int]) -> "LiveStand":
        """From a view's checkpoint rows (one per partition) and their positions by name."""
        positions = {
            row.partition if isinstance(row, ViewPartition) else None: checkpoints[row.name]
            for row in rows
        }
        return cls(rows[0].stream, positions)

    @property
    def furthest(self) -> int:
        return max(self.positions.values())

    def holds(self, message: StoredMessage) -> bool:
        """Whether the live view has applied `message` (at or before its partition's
        checkpoint)."""
        if None in self.positions:
            return message.seq <= self.positions[None]
        partition = int(message.subject.split(".")[1])  # stored as `orders.<p>.<id>`
        return message.seq <= self.positions[partition]

    async def lagging(self, js: JetStreamContext, at: int) -> list[int | None]:
        """The partitions (None: the whole view) with an event at or before `at` that they
        have not applied: the live view is behind a rebuild standing at `at`."""
        prefix = SUBJECT_PREFIX[self.stream]
        behind: list[int | None] = []
        for partition, position in self.positions.items():
            if position >= at:
                continue
            subjects = f"{prefix}.>" if partition is None else f"{prefix}.{partition}.*"
            try:
                following = await js.get_msg(self.stream, position + 1, subjects, next=True)
            except NotFoundError:
                continue
            if int(following.seq or 0) <= at:
                behind.append(partition)
        return behind
