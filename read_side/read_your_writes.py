"""Read-your-writes: a query with `after=<position>` is answered from a snapshot in which
the view has applied that position, or fails `ProjectionLagging` after `wait` seconds.

When the process already knows (from an earlier read of the checkpoint row) that the
position is applied, the query runs as it would without `after`: a later snapshot holds
everything an earlier one did. Otherwise the query runs in its `checked` form, which reads
the checkpoint row in the same statement; if that snapshot is behind, the request waits
for the projector's notification (`positions.py`) and runs it again; for a view of one
checkpoint row, whose projector notifies every position it saves, the checked read waits
for that notification first (unless one already claimed the position). Either way the
answer comes from a snapshot whose checkpoint is at or past the position: never the older
row.

A partitioned view has applied a position for one aggregate once the partition that holds
the aggregate has (for a list: every partition). A partition's checkpoint is the last of
ITS events it applied, so it "has" a position also when none of its events lies between
its checkpoint and that position: asked of JetStream (the first event of the partition
after the checkpoint), capped at the stream's end, whenever the checkpoint is read. A list
over several partitions waits for each partition's row, then runs its plain query.
"""

from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Any, TypeVar

from nats.aio.client import Client as NATS

from events.partitions import Layout, partition_of
from events.subjects import SUBJECT_PREFIX, Position
from read_side import queries
from read_side.errors import PositionOfAnotherStream, ProjectionLagging
from read_side.positions import ProjectionPositions
from read_side.row_cache import pages_of
from read_side.stream_reader import last_sequence, next_sequence
from read_side.views import ViewReader

T = TypeVar("T")
Plain = Callable[[], Awaitable[T]]
Checked = Callable[[str], Awaitable[tuple[int, T]]]  # checkpoint name -> (position, answer)
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
        # the views of one checkpoint row, whose row is their name (the layout is fixed
        # for the process's life: read once at start)
        self._whole = {name for name, stream in streams.items() if self.layout.count(stream) <= 1}

    def rows(self, projection: str, key: str | None = None) -> list[tuple[str, int | None]]:
        """(checkpoint row, partition) that serve `projection`, for aggregate `key` or all."""
        if projection in self._whole:
            return [(projection, None)]
        count = self.layout.count(self.streams[projection])
        chosen = range(count) if key is None else [partition_of(key, count)]
        return [(f"{projection}{SEPARATOR}{p}", p) for p in chosen]

    async def read(
        self,
        projection: str,
        position: Position | None,
        wait: float,
        plain: Plain[T],
        checked: Checked[T],
        aggregate: str | None = None,
        cache_key: Hashable | None = None,
        cache_size: int = 1,
    ) -> T:
        """`plain()` when `position` is None or known to be applied; else the answer of a
        `checked()` read that shows the position applied (`aggregate`: the order id or SKU
        asked for, whose partition is waited for; None: a list). With a `cache_key`, a
        plain read is answered from the row cache when it can be (`row_cache.py`), where
        it counts `cache_size` rows."""
        if position is None:
            return await self._plain(projection, aggregate, cache_key, cache_size, 0, plain)
        stream = self.streams[projection]
        if position.stream != stream:
            raise PositionOfAnotherStream(
                f"{position} is in {position.stream}; this view is built from {stream}"
            )
        if projection in self._whole and self._positions.known(projection) >= position.seq:
            # known applied: the plain GET (one comparison more)
            return await self._plain(
                projection, aggregate, cache_key, cache_size, position.seq, plain
            )
        rows = self.rows(projection, aggregate)
        if len(rows) > 1:
            await self._until_applied(projection, stream, position, wait, rows)
            # every partition had applied it: a later snapshot has it
            return await self._plain(
                projection, aggregate, cache_key, cache_size, position.seq, plain
            )
        ((name, partition),) = rows
        if self._positions.known(name) >= position.seq:
            return await self._plain(
                projection, aggregate, cache_key, cache_size, position.seq, plain
            )
        latest: tuple[int, T] | None = None

        async def read() -> int:
            nonlocal latest
            applied, answer = await checked(name)
            if partition is not None and applied < position.seq:
                applied = await self._covered(stream, partition, applied, position.seq)
            latest = applied, answer
            return applied

        # a whole view's row is notified at every position its projector saves: wait for
        # that hint before reading (a partition's may never be, see `_covered`)
        hint_first = partition is None
        if not await self._positions.wait_for(
            name, position.seq, wait, read, hint_first=hint_first
        ):
            applied = Position(stream, self._positions.known(name))
            raise ProjectionLagging(projection, applied, position)
        if latest is not None and latest[0] >= position.seq:
            return latest[1]
        return await plain()  # known applied by another read: any later snapshot has it

    async def _plain(
        self,
        projection: str,
        aggregate: str | None,
        key: Hashable | None,
        size: int,
        at_least: int,
        plain: Plain[T],
    ) -> T:
        """`plain()`, or its answer cached by a read that knew `at_least` applied."""
        cache = self._positions.cache
        if key is None or not cache.on:
            return await plain()
        known = self._positions.known
        if projection in self._whole:
            name = projection if aggregate is not None else pages_of(projection)
            position = known(projection)
        elif aggregate is None:  # a page: of every partition
            name = pages_of(projection)
            position = min(known(row) for row, _ in self.rows(projection))
        else:
            name = self.rows(projection, aggregate)[0][0]
            position = known(name)
        # never older than a position this process has seen applied: a read with `after=`
        # may have confirmed a commit whose notification has not arrived yet
        hit: Any = cache.get(name, key, max(at_least, position))
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        ticket = cache.ticket(name, position)
        answer = await plain()
        cache.put(ticket, key, answer, size)
        return answer

    async def _until_applied(
        self,
        projection: str,
        stream: str,
        position: Position,
        wait: float,
        rows: list[tuple[str, int | None]],
    ) -> None:
        for row, partition in rows:

            async def reread(row: str = row, partition: int | None = partition) -> int:
                applied = int(await self._views.value(queries.CHECKPOINT, row) or 0)
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
