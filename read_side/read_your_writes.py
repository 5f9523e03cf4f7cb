"""Read-your-writes: a query with `after=<position>` is answered once the view that serves
it has applied that position, or fails `ProjectionLagging` after `wait` seconds. The wait
is driven by the projectors' notifications (`positions.py`); the checkpoint is read once
after registering, so no notification can slip by, and once more at the end.

A partitioned view has applied a position for one aggregate once the partition that holds
the aggregate has (for a list: every partition). A partition's checkpoint is the last of
ITS events it applied, so it "has" a position also when none of its events lies between
its checkpoint and that position: asked of JetStream (the first event of the partition
after the checkpoint), capped at the stream's end, whenever the checkpoint is read.
"""

from collections.abc import Mapping

from nats.aio.client import Client as NATS

from events.partitions import Layout, partition_of
from events.subjects import SUBJECT_PREFIX, Position
from read_side.errors import PositionOfAnotherStream, ProjectionLagging
from read_side.positions import ProjectionPositions
from read_side.stream_reader import last_sequence, next_sequence
from read_side.views import ViewReader

SEPARATOR = "/"  # a partition's checkpoint row: `orders/2` (projections.partitions)


class WaitForView:
    def __init__(
        self,
        positions: ProjectionPositions,
        views: ViewReader,
        streams: Mapping[str, str],
        *,
        layout: Layout | None = None,
        nc: NATS | None = None,
    ) -> None:
        self._positions = positions
        self._views = views
        self.streams = dict(streams)  # projection name -> the stream it is built from
        self.layout = layout or Layout()
        self._nc = nc

    def rows(self, projection: str, key: str | None = None) -> list[tuple[str, int | None]]:
        """(checkpoint row, partition) that serve `projection`, for aggregate `key` or all."""
        count = self.layout.count(self.streams[projection])
        if count <= 1:
            return [(projection, None)]
        chosen = range(count) if key is None else [partition_of(key, count)]
        return [(f"{projection}{SEPARATOR}{p}", p) for p in chosen]

    async def until_applied(
        self, projection: str, position: Position | None, wait: float, key: str | None = None
    ) -> None:
        """`key`: the aggregate asked for (its partition is waited for), None: all."""
        if position is None:
            return
        stream = self.streams[projection]
        if position.stream != stream:
            raise PositionOfAnotherStream(
                f"{position} is in {position.stream}; this view is built from {stream}"
            )
        for row, partition in self.rows(projection, key):

            async def reread(row: str = row, partition: int | None = partition) -> int:
                applied = await self._views.checkpoint(row)
                if partition is None or applied >= position.seq:
                    return applied
                return await self._covered(stream, partition, applied, position.seq)

            if not await self._positions.wait_for(row, position.seq, wait, reread):
                applied = Position(stream, self._positions.known(row))
                raise ProjectionLagging(projection, applied, position)

    async def _covered(self, stream: str, partition: int, applied: int, target: int) -> int:
        """How far partition `partition` is complete: up to its next unapplied event."""
        if self._nc is None:
            return applied
        timeout = self._views.timeout
        subjects = f"{SUBJECT_PREFIX[stream]}.{partition}.*"
        following = await next_sequence(self._nc, stream, subjects, applied, timeout=timeout)
        if following is not None:
            return max(applied, min(following - 1, target))
        return max(applied, min(target, await last_sequence(self._nc, stream, timeout=timeout)))
