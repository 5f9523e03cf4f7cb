"""Probes: gauges about state outside the process, sampled just before they are read.

- readiness: each /ready check (NATS, PostgreSQL, projections, the payment breaker) as
  `tally_ready_check_up{check}`, run before each scrape of the API's /metrics;
- projections: each view's (or partition's) lag (its last event, the stream's or the
  partition's, minus the checkpoint committed in PostgreSQL, as /projections and `tally
  status` compute it) and whether its audit counters add up to its position
  (`applied + dead + ignored == position - counted_from`), the stream's last sequence and
  each view's dead letters, run by the projector role: it may read the dead-letter
  stream, the API may not.

The worker roles serve their metrics from a thread, which cannot wait for a probe: there
`refresh_every` runs the probes on a timer instead.
"""

import asyncio
import contextlib
from collections.abc import Mapping, Sequence

import asyncpg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from projections.base import Projection
from projections.dlq import dead_letter_counts
from projections.partitions import filter_subject, view_of
from tally.http.ops import Check, run_checks
from tally.metrics import Metrics, Probe

SAMPLE_SECONDS = 5.0  # how often a worker role refreshes its probes
_CHECKPOINTS = """SELECT name, position,
    applied + dead + ignored = position - counted_from AS complete
FROM projection_checkpoints"""


def readiness_probe(checks: Mapping[str, Check], metrics: Metrics) -> Probe:
    async def probe() -> None:
        for name, (ok, _) in (await run_checks(checks)).items():
            metrics.check_observed(name, ok)

    return probe


class ProjectionProbe:
    """Lag, audit, stream head and dead letters of `projections` (views, or partitions of
    them), on one PostgreSQL connection of its own (opened on first use, again after a
    failure, closed by `close`)."""

    def __init__(
        self,
        js: JetStreamContext,
        dsn: str,
        projections: Sequence[Projection],
        metrics: Metrics,
    ) -> None:
        self._js = js
        self._dsn = dsn
        self._projections = list(projections)
        self._metrics = metrics
        self._conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()  # the timer and a scrape may call at once
        self._closed = False

    def __repr__(self) -> str:
        return f"ProjectionProbe({', '.join(p.name for p in self._projections)})"

    async def __call__(self) -> None:
        async with self._lock:
            if self._closed:
                return
            checkpoints = await self._checkpoints()
            streams = {projection.stream for projection in self._projections}
            last = {s: int((await self._js.stream_info(s)).state.last_seq) for s in streams}
            tops = {p.name: await self._last_of(p, last[p.stream]) for p in self._projections}
            dead = await dead_letter_counts(self._js)
        for stream, seq in last.items():
            self._metrics.stream_sampled(stream, seq)
        for projection in self._projections:
            position, complete = checkpoints.get(projection.name, (0, True))
            self._metrics.projection_sampled(
                projection.name, position, tops[projection.name], complete
            )
        for view in dict.fromkeys(view_of(projection) for projection in self._projections):
            self._metrics.dead_letters_sampled(view, dead.get(view, 0))  # kept per view

    async def _last_of(self, projection: Projection, stream_last: int) -> int:
        """The last event the projection folds: the stream's, or its partition's."""
        subject = filter_subject(projection)
        if subject is None:
            return stream_last
        try:
            return int((await self._js.get_last_msg(projection.stream, subject)).seq or 0)
        except NotFoundError:
            return 0

    async def _checkpoints(self) -> dict[str, tuple[int, bool]]:
        """Row name -> (position, whether its audit counters add up to it)."""
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self._dsn, timeout=5, command_timeout=5)
        try:
            rows = await self._conn.fetch(_CHECKPOINTS)
        except BaseException:  # timed out or broken: a new connection next time
            conn, self._conn = self._conn, None
            conn.terminate()
            raise
        return {row["name"]: (int(row["position"]), bool(row["complete"])) for row in rows}

    async def close(self) -> None:
        async with self._lock:
            self._closed = True
            conn, self._conn = self._conn, None
            if conn is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), 2)
                if not conn.is_closed():
                    conn.terminate()


async def refresh_every(metrics: Metrics, interval: float = SAMPLE_SECONDS) -> None:
    """Refreshes the probes every `interval` seconds until cancelled."""
    while True:
        await metrics.refresh()
        await asyncio.sleep(interval)
