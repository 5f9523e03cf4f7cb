"""What /ready asks of each dependency: NATS connected and answering a flush, PostgreSQL
answering a SELECT, every projection within the allowed lag, and the payment breaker's
state (reported, never failing: an open breaker parks payments, the API takes orders)."""

from collections.abc import Awaitable, Callable

from nats.aio.client import Client as NATS

from read_side.http.routes import QueryRoutes
from tally.http.ops import Check, CheckResult
from tally.redaction import host_port
from write_side.fulfilment.breaker import CircuitBreaker


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


def projections_check(routes: QueryRoutes, max_lag: int) -> Check:
    async def check() -> CheckResult:
        states = await routes.projection_states()
        behind = [f"{item['name']} lag {item['lag']}" for item in states if item["lag"] > max_lag]
        if behind:
            return False, f"over {max_lag} behind: " + ", ".join(behind)
        return True, ", ".join(f"{item['name']} lag {item['lag']}" for item in states)

    return check


def breaker_check(breaker: CircuitBreaker) -> Check:
    async def check() -> CheckResult:
        return True, breaker.snapshot().describe()

    return check
