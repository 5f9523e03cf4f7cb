"""The composition root: the one place that builds a process's parts from its settings.

Every role (`api`, `project`, `fulfil`, `replay`, `status`, `dlq`, `migrate`, `up`) opens
`bootstrap(settings, name=...)` and asks the parts it needs; each is built on first use,
once per process, and closed with the root, in reverse order. `tally up` runs several
roles on one root, so they share one NATS connection, one command service (and its state
cache), one circuit breaker and one set of metrics. Each dependency is a parameter with
the production default (`nats=`, `metrics=`, `gateway=`): a test passes its own.
Importing this module builds nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

import asyncpg
import nats.errors
from nats.aio.client import Client as NATS
from nats.js.errors import NotFoundError

from events.partitions import Layout
from tally.database_connection import connect_database
from tally.metrics import Metrics
from tally.nats_auth import nats_auth_options
from tally.nats_connection import at_start, connect_nats
from tally.settings import Settings
from tally.tracing.switch import exporter_named
from write_side.fulfilment.breaker import CircuitBreaker
from write_side.key_value import JetStreamKeyValue
from write_side.streams import read_layout

if TYPE_CHECKING:  # each loaded by the builder that needs it (below), so a role imports
    # only its own parts: the query side, the command side and payments are not what
    # `tally project` needs, and importing them cost every projector process ~0.3 s of CPU
    from starlette.routing import BaseRoute

    from tally.http.ops import Check
    from tally.tracing.setup import Tracing
    from write_side.command_service import CommandService
    from write_side.event_store import JetStreamEventStore
    from write_side.fulfilment.gateway import PaymentGateway
    from write_side.http.routes import CommandRoutes
    from write_side.snapshots import Snapshots

log = logging.getLogger("tally.bootstrap")
T = TypeVar("T")


async def _no_views() -> list[dict[str, Any]]:
    return []


@dataclass(frozen=True)
class QuerySide:
    routes: list[BaseRoute]
    checks: Mapping[str, Check]
    # each view's position, lag and state (GET /projections), for the operations page
    projection_states: Callable[[], Awaitable[list[dict[str, Any]]]] = _no_views


class Parts:
    """A process's parts, each built once, when first asked for. Use `bootstrap()`."""

    def __init__(
        self,
        settings: Settings,
        stack: contextlib.AsyncExitStack,
        *,
        name: str,
        nats: NATS | None,
        metrics: Metrics | None,
        gateway: PaymentGateway | None,
        connect_timeout: float | None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.checks: dict[str, Check] = {}  # readiness that roles of this process add
        self._stack = stack
        self._name = name
        self._given_nats = nats
        self._gateway = gateway
        self._connect_timeout = connect_timeout or settings.nats_connect_timeout
        self._built: dict[str, Any] = {}
        self._building: dict[str, asyncio.Lock] = {}

    async def _once(self, part: str, build: Callable[[], Awaitable[T]]) -> T:
        if part not in self._built:
            async with self._building.setdefault(part, asyncio.Lock()):
                if part not in self._built:
                    self._built[part] = await build()
        return cast(T, self._built[part])

    async def nats(self) -> NATS:
        """The process's one NATS connection (drained last but for what opened before it)."""

        async def connect() -> NATS:
            if self._given_nats is not None:
                return self._given_nats  # the caller's: the caller closes it
            nc = await connect_nats(
                self.settings.nats_servers,
                name=self._name,
                connect_timeout=self._connect_timeout,
                **nats_auth_options(self.settings),
            )
            self._stack.push_async_callback(nc.drain)
            return nc

        return await self._once("nats", connect)

    async def layout(self) -> Layout:
        """How the event streams are partitioned, as the server has them (read once: a
        repartitioning `tally migrate` asks for the writers to be restarted). Read while
        JetStream cannot answer yet (a leader election), the role waits rather than exits."""

        async def read() -> Layout:
            js = (await self.nats()).jetstream()
            return await at_start(
                "reading the partitions of the streams",
                lambda: read_layout(js),
                timeout=self._connect_timeout,
            )

        return await self._once("layout", read)

    async def event_store(self) -> JetStreamEventStore:
        from write_side.event_store import JetStreamEventStore

        async def build() -> JetStreamEventStore:
            nc, layout = await self.nats(), await self.layout()
            return JetStreamEventStore(nc, timeout=self.settings.nats_timeout, layout=layout)

        return await self._once("event_store", build)

    async def command_service(self) -> CommandService:
        """One per process: the API and fulfilment of `tally up` share its state cache."""

        from tally.log_lines import line_writer
        from write_side.command_service import CommandService

        async def build() -> CommandService:
            tracing = self.tracing()
            make = CommandService if tracing is None else tracing.command_service
            return make(
                await self.event_store(),
                max_attempts=self.settings.command_max_attempts,
                cache_size=self.settings.command_cache_entries,
                observer=self.metrics,
                snapshots=await self._snapshots(),
                log_line=line_writer(logging.getLogger(CommandService.__module__)),
            )

        return await self._once("command_service", build)

    async def command_routes(self) -> CommandRoutes:
        from tally.http.errors import API_ERRORS
        from write_side.http.idempotent import IdempotentCommands
        from write_side.http.routes import CommandRoutes
        from write_side.idempotency import BUCKET as IDEMPOTENCY_BUCKET
        from write_side.idempotency import IdempotencyStore
        from write_side.ids import SECRETS_BUCKET, read_id_secret

        async def build() -> CommandRoutes:
            kv = await self.key_value(IDEMPOTENCY_BUCKET)
            idempotency = IdempotentCommands(IdempotencyStore(kv), answers=API_ERRORS)
            service = await self.command_service()
            secret = await read_id_secret(await self.key_value(SECRETS_BUCKET))
            return CommandRoutes(
                service, idempotency, id_secret=secret, deadline=self.settings.command_deadline
            )

        return await self._once("command_routes", build)

    async def _snapshots(self) -> Snapshots | None:
        """Snapshots of stock items every `snapshot_every` events (0: none). Without their
        bucket (not migrated yet, no permission) commands fold from sequence 1."""
        from write_side.snapshots import BUCKET as SNAPSHOT_BUCKET
        from write_side.snapshots import Snapshots

        every = self.settings.snapshot_every
        if every == 0:
            return None
        try:
            kv = await self.key_value(SNAPSHOT_BUCKET)
        except (NotFoundError, nats.errors.Error, TimeoutError) as error:
            log.warning("no snapshots: bucket %s not bound: %r", SNAPSHOT_BUCKET, error)
            return None
        return Snapshots(kv, await self.event_store(), every=every)

    async def key_value(self, bucket: str) -> JetStreamKeyValue:
        """A key-value bucket `tally migrate` made (the roles' NATS users may not create
        one): the Idempotency-Key answers, the fulfilment status. Bound while JetStream
        cannot answer yet (a leader election), the role waits rather than exits."""

        async def bind() -> JetStreamKeyValue:
            js = (await self.nats()).jetstream()
            kv = await at_start(
                f"binding the key-value bucket {bucket}",
                lambda: js.key_value(bucket),
                timeout=self._connect_timeout,
            )
            return JetStreamKeyValue(kv, bucket)

        return await self._once(f"key_value:{bucket}", bind)

    async def status_bucket(self) -> JetStreamKeyValue:
        from write_side.fulfilment.status import BUCKET as STATUS_BUCKET

        return await self.key_value(STATUS_BUCKET)

    async def query_side(self) -> QuerySide:
        """The query routes with their pool and LISTEN connection; none without a database."""
        return await self._once("query_side", self._build_query_side)

    async def _build_query_side(self) -> QuerySide:
        from projections.as_of import VIEW_FOLDS
        from projections.registry import PROJECTIONS
        from read_side.http.routes import QueryRoutes
        from read_side.positions import ProjectionPositions
        from read_side.read_your_writes import WaitForView
        from read_side.row_cache import RowCache
        from read_side.temporal import TemporalReads
        from read_side.views import ViewReader
        from tally.checks import postgres_check, projections_check
        from tally.database_url import asyncpg_dsn
        from tally.operator.progress import StallTracker

        dsn = self.settings.query_database_dsn()  # TALLY_QUERY_DATABASE_URL, else DATABASE_URL
        if dsn is None:
            log.warning("DATABASE_URL is not set: no query routes")
            return QuerySide([], {})
        settings = self.settings
        views = ViewReader.open(
            asyncpg_dsn(dsn), size=settings.db_pool_size, timeout=settings.query_timeout
        )
        self._stack.push_async_callback(views.close)
        cache = RowCache(settings.query_cache_entries)
        positions = ProjectionPositions(asyncpg_dsn(dsn), cache=cache)
        await positions.start()
        self._stack.push_async_callback(positions.close)
        streams = {name: projection.stream for name, projection in PROJECTIONS.items()}
        nc = await self.nats()
        waiting = WaitForView(positions, views, streams, layout=await self.layout(), nc=nc)
        temporal = TemporalReads(nc, VIEW_FOLDS, streams, timeout=settings.query_timeout)
        routes = QueryRoutes(views, nc, waiting, temporal)
        checks = {
            "postgres": postgres_check(views.ping),
            "projections": projections_check(
                routes.projection_states, StallTracker(settings.ready_stall_seconds)
            ),
        }
        return QuerySide(list(routes.routes()), checks, routes.projection_states)

    async def database(self) -> asyncpg.Connection:
        """One connection as the database's owner (DATABASE_URL), for the operator's
        commands (`status`, `dlq retry`); DatabaseUnavailable (the URL masked, the cause)
        when it cannot be made within the root's connect timeout."""

        async def connect() -> asyncpg.Connection:
            dsn = self.settings.database_dsn()
            if dsn is None:
                raise RuntimeError("DATABASE_URL is not set")
            conn = await connect_database(dsn, timeout=self._connect_timeout)
            self._stack.push_async_callback(conn.close)
            return conn

        return await self._once("database", connect)

    def tracing(self) -> Tracing | None:
        """The process's tracing, as the OTEL_* variables ask (None: off, the default, and
        OpenTelemetry is not even imported); what it holds is exported when the root
        closes. The roles ask it for the traced version of the parts they wrap."""
        if "tracing" not in self._built:
            tracing = None
            if exporter_named(os.environ) is not None:
                from tally.tracing.setup import start_tracing

                tracing = start_tracing(self._name)
                if tracing is not None:
                    self._stack.push_async_callback(tracing.close)
            self._built["tracing"] = tracing
        return cast("Tracing | None", self._built["tracing"])

    def breaker(self) -> CircuitBreaker:
        """The payment gateway's breaker; its changes go to the metrics."""
        if "breaker" not in self._built:
            breaker = CircuitBreaker(
                failure_threshold=self.settings.breaker_failure_threshold,
                reset_timeout=self.settings.breaker_reset_seconds,
            )
            breaker.subscribe(self.metrics.breaker_changed)
            self._built["breaker"] = breaker
        return cast(CircuitBreaker, self._built["breaker"])

    def gateway(self) -> PaymentGateway:
        """The HTTP gateway at TALLY_PAYMENT_URL, else the simulator; closed with the root."""
        if "gateway" not in self._built:
            gateway = self._gateway or _payment_gateway(self.settings)
            self._stack.push_async_callback(gateway.aclose)
            self._built["gateway"] = gateway
        return cast("PaymentGateway", self._built["gateway"])

    def on_close(self, close: Callable[[], Awaitable[None]]) -> None:
        """Run `close` when the root closes (before what was built earlier)."""
        self._stack.push_async_callback(close)


def _payment_gateway(settings: Settings) -> PaymentGateway:
    from write_side.fulfilment.http_gateway import HttpPaymentGateway
    from write_side.fulfilment.simulator import SimulatedGateway

    if settings.payment_url:
        return HttpPaymentGateway(settings.payment_url, timeout=settings.payment_timeout_seconds)
    return SimulatedGateway(
        limit=settings.payment_limit,
        failure_rate=settings.payment_failure_rate,
        rng=random.Random(settings.payment_seed),
    )


@contextlib.asynccontextmanager
async def bootstrap(
    settings: Settings,
    *,
    name: str,
    nats: NATS | None = None,
    metrics: Metrics | None = None,
    gateway: PaymentGateway | None = None,
    connect_timeout: float | None = None,
) -> AsyncIterator[Parts]:
    """The parts of one process named `name` (its NATS connection's name), closed on exit."""
    async with contextlib.AsyncExitStack() as stack:
        yield Parts(
            settings,
            stack,
            name=name,
            nats=nats,
            metrics=metrics,
            gateway=gateway,
            connect_timeout=connect_timeout,
        )
