"""Probes: gauges about state outside the process, sampled just before they are read.

- readiness: each /ready check (NATS, PostgreSQL, projections, the payment breaker) as
  `tally_ready_check_up{check}`, run before each scrape of the API's /metrics;
- projections: each view's lag (its stream's last sequence minus the checkpoint committed
  in PostgreSQL, as /projections and `tally status` compute it), the stream's last
  sequence and the view's dead letters, run by the projector role: it may read the
  dead-letter stream, the API may not.

The worker roles serve their metrics from a thread, which cannot wait for a probe: there
`refresh_every` runs the probes on a timer instead.
"""

import asyncio
import contextlib
from collections.abc import Mapping, Sequence

import asyncpg
from nats.js import JetStreamContext

from projections.base import Projection
from projections.dlq import dead_letter_counts
from tally.http.ops import Check, run_checks
from tally.metrics import Metrics, Probe

SAMPLE_SECONDS = 5.0  # how often a worker role refreshes its probes


def readiness_probe(checks: Mapping[str, Check], metrics: Metrics) -> Probe:
    async def probe() -> None:
        for name, (ok, _) in (await run_checks(checks)).items():
            metrics.check_observed(name, ok)

    return probe


class ProjectionProbe:
    """Lag, stream head and dead letters of `projections`, on one PostgreSQL connection of
    its own (opened on first use, again after a failure, closed by `close`)."""

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
            dead = await dead_letter_counts(self._js)
        for projection in self._projections:
            self._metrics.projection_sampled(
                projection.name,
                projection.stream,
                checkpoints.get(projection.name, 0),
                last[projection.stream],
                dead.get(projection.name, 0),
            )

    async def _checkpoints(self) -> dict[str, int]:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self._dsn, timeout=5, command_timeout=5)
        try:
            rows = await self._conn.fetch("SELECT name, position FROM projection_checkpoints")
        except BaseException:  # timed out or broken: a new connection next time
            conn, self._conn = self._conn, None
            conn.terminate()
            raise
        return {row["name"]: int(row["position"]) for row in rows}

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
