"""How far each projection is, and whether it is *stalled*: lagging and not moving for
`TALLY_READY_STALL_SECONDS`. A projection that lags but moves is healthy (a backlog being
worked off); one that lags and stands still is not.

Two ways to tell, one meaning:
- one look (`tally status --check`): the checkpoint has not moved for N s (its
  `updated_at`) and the oldest event it has not applied was stored N s ago or more;
- looks over time (`/ready`, `StallTracker`): the position seen has not changed, with a
  lag, for N s of this process's looks (roles whose NATS user may not read the streams'
  messages have only this).
"""

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from projections.base import Projection
from projections.partitions import ViewPartition, filter_subject, parse_checkpoint_key

CHECKPOINTS = """SELECT name, position, state,
    EXTRACT(EPOCH FROM clock_timestamp() - updated_at)::float8 AS idle_seconds,
    applied, dead, ignored, applied + dead + ignored = position - counted_from AS complete,
    EXISTS (SELECT FROM projection_pauses p WHERE p.name = split_part(c.name, '/', 1)) AS paused
FROM projection_checkpoints c"""


@dataclass(frozen=True)
class Audit:
    """A checkpoint row's audit counters: events applied, dead-lettered and ignored
    (another partition's), and whether they add up to its position."""

    applied: int
    dead: int
    ignored: int
    complete: bool

    def as_json(self) -> dict[str, Any]:
        return vars(self).copy()


@dataclass(frozen=True)
class ViewProgress:
    """One projection (or, partitioned, one partition of it)."""

    name: str
    stream: str
    position: int
    stream_last_seq: int
    state: str  # live, catching-up, replaying (as GET /projections)
    partition: int | None = None
    idle_seconds: float | None = None  # since the checkpoint last moved; None: never ran
    waiting_seconds: float | None = None  # age of the oldest event not applied yet
    audit: Audit | None = None  # None: never ran
    paused: bool = False  # its view is paused (`tally pause`, the admin API)

    @property
    def lag(self) -> int:
        return max(0, self.stream_last_seq - self.position)

    def stalled(self, after: float) -> bool:
        """Lagging, not moved for `after` s, and the next event waiting that long (a
        paused view stands still on purpose: not stalled)."""
        if self.paused or self.lag == 0:
            return False
        if self.waiting_seconds is None or self.waiting_seconds < after:
            return False
        return self.idle_seconds is None or self.idle_seconds >= after

    def as_json(self, stall_seconds: float) -> dict[str, Any]:
        return {
            "name": parse_checkpoint_key(self.name)[0],  # the view, as GET /projections
            "partition": self.partition,
            "stream": self.stream,
            "position": self.position,
            "stream_last_seq": self.stream_last_seq,
            "lag": self.lag,
            "state": self.state,
            "paused": self.paused,
            "idle_seconds": _rounded(self.idle_seconds),
            "waiting_seconds": _rounded(self.waiting_seconds),
            "stalled": self.stalled(stall_seconds),
            "audit": None if self.audit is None else self.audit.as_json(),
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


async def read_progress(
    js: JetStreamContext,
    checkpoints: Sequence[Mapping[str, Any]],
    projections: Sequence[Projection],
    *,
    waiting: bool = True,
) -> list[ViewProgress]:
    """The progress of `projections` from their checkpoint rows (`CHECKPOINTS`) and their
    streams; `waiting`: the age of the next event too, read (one direct get) only where
    there is lag (the projectors' NATS user may not, it reads stream info only). A
    partition of a view (`ViewPartition`) is measured against its own last event."""
    rows = {str(row["name"]): row for row in checkpoints}
    last: dict[str, int] = {}
    found = []
    for projection in projections:
        subject = filter_subject(projection)
        partition = projection.partition if isinstance(projection, ViewPartition) else None
        if subject is not None:  # the partition's own last event
            top = await _last_of(js, projection.stream, subject)
        else:
            if projection.stream not in last:
                info = await js.stream_info(projection.stream)
                last[projection.stream] = int(info.state.last_seq)
            top = last[projection.stream]
        row = rows.get(projection.name)
        position = int(row["position"]) if row else 0
        state = str(row["state"]) if row else "live"  # as GET /projections says
        if state == "live" and top > position:
            state = "catching-up"
        idle = float(row["idle_seconds"]) if row and row["idle_seconds"] is not None else None
        age = (
            await _waiting(js, projection.stream, position, subject or ">")
            if waiting and top > position
            else None
        )
        audit = (
            Audit(int(row["applied"]), int(row["dead"]), int(row["ignored"]), bool(row["complete"]))
            if row
            else None
        )
        found.append(
            ViewProgress(
                projection.name,
                projection.stream,
                position,
                top,
                state,
                partition,
                idle,
                age,
                audit,
                bool(row.get("paused")) if row else False,
            )
        )
    return found


async def _last_of(js: JetStreamContext, stream: str, subject: str) -> int:
    try:
        return int((await js.get_last_msg(stream, subject)).seq or 0)
    except NotFoundError:
        return 0


async def _waiting(
    js: JetStreamContext, stream: str, position: int, subject: str = ">"
) -> float | None:
    """How long ago the first message after `position` (on `subject`) was stored."""
    try:
        raw = await js.get_msg(stream, position + 1, subject=subject, next=True, direct=True)
    except NotFoundError:
        return None
    if raw.time is None:
        return None
    return max(0.0, datetime.now(UTC).timestamp() - raw.time.timestamp())


@dataclass
class StallTracker:
    """Looks over time: a projection is stalled when this process has seen it lagging at
    the same position for `after` seconds."""

    after: float
    clock: Any = time.monotonic
    _since: dict[str, tuple[int, float]] = field(default_factory=dict)

    def stalled(self, name: str, position: int, lag: int) -> float | None:
        """How long it has stood still with a lag when that is `after` s or more, else None."""
        now = self.clock()
        if lag <= 0:
            self._since.pop(name, None)
            return None
        seen = self._since.get(name)
        if seen is None or seen[0] != position:
            self._since[name] = (position, now)
            return None
        still = now - seen[1]
        return still if still >= self.after else None
