"""The HTTP port of a worker (`tally project`, `tally fulfil`) on TALLY_METRICS_PORT:
`/metrics`, and `/health` and `/ready` of its own for an orchestrator's probes.

The projector's /ready: NATS connected, its database reachable, and none of its
projections stalled (lagging at the same position for TALLY_READY_STALL_SECONDS as this
process saw it; a backlog being worked off is ready). The fulfilment's: NATS connected,
the payment breaker reported (never failing: an open breaker parks payments only).
"""

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
from starlette.applications import Starlette

from projections.base import Projection
from projections.partitions import parse_checkpoint_key
from tally.bootstrap import Parts
from tally.checks import breaker_check, nats_check, projections_check
from tally.database_url import asyncpg_dsn
from tally.http.observe import metrics_route
from tally.http.ops import Check, CheckResult, ops_routes
from tally.metric_probes import refresh_every
from tally.operator.progress import CHECKPOINTS, StallTracker, read_progress
from tally.roles.lifecycle import serve_http

CONNECT_TIMEOUT = 1.0


async def serve_worker_http(parts: Parts, stop: asyncio.Event, checks: Mapping[str, Check]) -> None:
    """Serves until `stop` is set; returns at once when TALLY_METRICS_PORT is unset."""
    settings = parts.settings
    if not settings.metrics_port:
        return
    app = Starlette(routes=[*ops_routes(checks), metrics_route(parts.metrics)])
    # the probes run at each scrape, and on a timer too (alerts compare two reporters)
    refreshing = asyncio.create_task(refresh_every(parts.metrics))
    try:
        await serve_http(app, settings.model_copy(update={"port": settings.metrics_port}), stop)
    finally:
        refreshing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await refreshing


class CheckpointReader:
    """The checkpoints, read over one connection of its own: made on first use, again
    after a failure, closed with the process's root."""

    def __init__(self, dsn: str, timeout: float = CONNECT_TIMEOUT) -> None:
        self._dsn = asyncpg_dsn(dsn)
        self._timeout = timeout
        self._conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()

    async def rows(self) -> list[Any]:
        async with self._lock:
            if self._conn is None or self._conn.is_closed():
                self._conn = await asyncpg.connect(self._dsn, timeout=self._timeout)
            try:
                return list(await self._conn.fetch(CHECKPOINTS, timeout=self._timeout))
            except BaseException:
                conn, self._conn = self._conn, None
                conn.terminate()
                raise

    async def close(self) -> None:
        async with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)
            if not conn.is_closed():
                conn.terminate()


async def projector_checks(
    parts: Parts, projections: Sequence[Projection], dsn: str
) -> dict[str, Check]:
    nc = await parts.nats()
    reader = CheckpointReader(dsn)
    parts.on_close(reader.close)

    async def postgres() -> CheckResult:
        await reader.rows()
        return True, "ok"

    async def states() -> list[dict[str, Any]]:
        progress = await read_progress(
            nc.jetstream(), await reader.rows(), projections, waiting=False
        )
        return [
            {
                "name": parse_checkpoint_key(p.name)[0],  # the view, as GET /projections
                "partition": p.partition,
                "position": p.position,
                "lag": p.lag,
                "paused": p.paused,
            }
            for p in progress
        ]

    tracker = StallTracker(parts.settings.ready_stall_seconds)
    return {
        "nats": nats_check(nc),
        "postgres": postgres,
        "projections": projections_check(states, tracker),
    }


async def fulfilment_checks(parts: Parts) -> dict[str, Check]:
    return {
        "nats": nats_check(await parts.nats()),
        "payment_breaker": breaker_check(parts.breaker()),
    }
