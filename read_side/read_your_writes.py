"""Read-your-writes: a query with `after=<position>` is answered once the view that serves
it has applied that position, or fails `ProjectionLagging` after `wait` seconds. The wait
is driven by the projectors' notifications (`positions.py`); the checkpoint is read once
after registering, so no notification can slip by, and once more at the end."""

from collections.abc import Mapping

from events.subjects import Position
from read_side.errors import PositionOfAnotherStream, ProjectionLagging
from read_side.positions import ProjectionPositions
from read_side.views import ViewReader


class WaitForView:
    def __init__(
        self, positions: ProjectionPositions, views: ViewReader, streams: Mapping[str, str]
    ) -> None:
        self._positions = positions
        self._views = views
        self.streams = dict(streams)  # projection name -> the stream it is built from

    async def until_applied(self, projection: str, position: Position | None, wait: float) -> None:
        if position is None:
            return
        stream = self.streams[projection]
        if position.stream != stream:
            raise PositionOfAnotherStream(
                f"{position} is in {position.stream}; this view is built from {stream}"
            )

        async def reread() -> int:
            return await self._views.checkpoint(projection)

        if not await self._positions.wait_for(projection, position.seq, wait, reread):
            applied = Position(stream, self._positions.known(projection))
            raise ProjectionLagging(projection, applied, position)
