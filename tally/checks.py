"""What /ready asks of each dependency: NATS connected and answering a flush, PostgreSQL
answering a SELECT, no projection stalled (a lag that moves is reported, not failed: a
backlog must not take the API out of service), and the payment breaker's state (reported,
never failing: an open breaker parks payments, the API takes orders)."""

import time
from collections.abc import Awaitable, Callable
from typing import Any

from nats.aio.client import Client as NATS
from nats.errors import Error as NatsError

from tally.http.ops import Check, CheckResult
from tally.operator.progress import StallTracker
from tally.redaction import host_port
from write_side.fulfilment.breaker import CircuitBreaker
from write_side.fulfilment.status import describe_status, read_breaker_status

States = Callable[[], Awaitable[list[dict[str, Any]]]]  # GET /projections' items


def nats_check(nc: NATS) -> Check:
    async def check() -> CheckResult:
        if not nc.is_connected:
            return False, "not connected"
        await nc.flush(timeout=1)
        # host:port only: NATS_URL may carry user:password@
        return True, host_port(nc.connected_url.geturl()) if nc.connected_url else "connected"

    return check


def postgres_check(ping: Callable[[], Awaitable[None]]) -> Check:
    """`ping`: one `SELECT 1` on the query routes' own pool."""

    async def check() -> CheckResult:
        await ping()
        return True, "ok"

    return check


def projections_check(states: States, tracker: StallTracker) -> Check:
    """Fails only when a projection is stalled (lagging at the same position for the
    tracker's time, not paused); a lag that moves is reported with `ok`."""

    async def check() -> CheckResult:
        stalled, moving = [], []
        for item in await states():
            name = (
                item["name"]
                if item.get("partition") is None
                else (f"{item['name']}/{item['partition']}")
            )
            if item.get("paused"):  # standing still on purpose
                moving.append(f"{name} lag {item['lag']} (paused)")
                continue
            still = tracker.stalled(name, int(item["position"]), int(item["lag"]))
            if still is not None:
                stalled.append(f"{name} lag {item['lag']}, no progress for {still:.0f} s")
            else:
                moving.append(f"{name} lag {item['lag']}")
        if stalled:
            return False, "stalled: " + ", ".join(stalled)
        return True, ", ".join(moving)

    return check


def breaker_check(breaker: CircuitBreaker) -> Check:
    async def check() -> CheckResult:
        return True, breaker.snapshot().describe()

    return check


def published_breaker_check(nc: NATS) -> Check:
    """The breaker as the fulfilment process last published it (`tally up` runs fulfilment
    in a process of its own): state and how long ago, reported, never failing."""

    async def check() -> CheckResult:
        try:
            record = await read_breaker_status(nc.jetstream())
        except (NatsError, TimeoutError) as error:  # the nats check reports the cause
            return True, f"not known ({type(error).__name__})"
        return True, describe_status(record, time.time()).removeprefix("payment breaker: ")

    return check
