"""A view split into partitions by aggregate: one `ViewPartition` per partition of its
stream, each with its own durable consumer (filtering `orders.<p>.*`), its own checkpoint
row (`orders/<p>`), its own advisory lock (one active projector per partition, standbys for
the rest) and the view's fold and tables.

A partition's checkpoint is the stream sequence of the last message of that partition it
applied: all of the partition's messages up to it are in the view. Messages of one
aggregate all fall in one partition, in stream order, so per-aggregate order is kept.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nats.js import JetStreamContext

from events.partitions import Layout, partitions_in
from events.subjects import SUBJECT_PREFIX
from projections.base import Connection, Projection
from projections.facts import Fact

if TYPE_CHECKING:
    from sqlalchemy import Table

SEPARATOR = "/"


def checkpoint_key(view: str, partition: int | None) -> str:
    """The checkpoint row's name: `orders` (one partition) or `orders/2`."""
    return view if partition is None else f"{view}{SEPARATOR}{partition}"


def parse_checkpoint_key(key: str) -> tuple[str, int | None]:
    """`orders/2` -> ("orders", 2); `orders` -> ("orders", None)."""
    view, separator, partition = key.partition(SEPARATOR)
    digits = partition.isascii() and partition.isdigit()
    return (view, int(partition)) if separator and digits else (key, None)


def view_of(projection: Projection) -> str:
    """The name of the view a projector (of a partition, or of a whole view) folds."""
    return parse_checkpoint_key(projection.name)[0]


@dataclass(frozen=True)
class ViewPartition:
    """Partition `partition` of `count` of `view`, itself a `Projection`."""

    view: Projection
    partition: int
    count: int

    @property
    def name(self) -> str:
        return checkpoint_key(self.view.name, self.partition)

    @property
    def stream(self) -> str:
        return self.view.stream

    @property
    def tables(self) -> "tuple[Table, ...]":
        return self.view.tables

    @property
    def filter_subject(self) -> str:
        return f"{SUBJECT_PREFIX[self.stream]}.{self.partition}.*"

    async def apply(self, conn: Connection, schema: str, facts: Sequence[Fact]) -> None:
        await self.view.apply(conn, schema, facts)


def projectors_of(
    view: Projection, layout: Layout, take: Sequence[int] | None = None
) -> list[Projection]:
    """What runs a view: itself when its stream is not partitioned, else its partitions
    (those in `take`, or all)."""
    count = layout.count(view.stream)
    if count <= 1:
        return [view]
    chosen = range(count) if take is None else sorted(set(take))
    unknown = [partition for partition in chosen if not 0 <= partition < count]
    if unknown:
        raise ValueError(f"{view.name} has partitions 0-{count - 1}, not {unknown}")
    return [ViewPartition(view, partition, count) for partition in chosen]


def filter_subject(projection: Projection) -> str | None:
    """The consumer filter of a partition; None for a whole view."""
    return projection.filter_subject if isinstance(projection, ViewPartition) else None


async def stream_partitions(js: JetStreamContext, stream: str) -> int:
    """How many partitions `stream` has, as configured on the server."""
    config = (await js.stream_info(stream)).config
    return partitions_in(config.subject_transform.dest if config.subject_transform else None)
