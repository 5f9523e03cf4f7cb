"""Three clustered NATS servers where one, `nats-2`, can be made to lag: every route to or
from it passes a delaying TCP proxy, so once `Lag.set(delay)` is called, what the stream
leader replicates reaches it `delay` seconds late (routes are made without delay: a slow
handshake fails). A client connected to nats-2 alone has its direct gets answered by that
follower: the stale reads a replicated stream may serve (nats.io: direct gets "can
retrieve values from any of the stream replicas")."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import nats.js.errors
from nats.aio.client import Client as NATS

from chaos.proxy import DelayingProxy
from tally.embedded import EmbeddedNats
from tally.embedded.ports import free_port
from write_side.streams import StreamSettings, ensure_streams

LAGGING = "nats-2"
PLACEMENT_FAILED = 10005  # JetStream's "no suitable peers for placement"


class Lag:
    def __init__(self, nodes: list[EmbeddedNats], proxies: list[DelayingProxy]) -> None:
        self.nodes, self._proxies = nodes, proxies

    def set(self, delay: float) -> None:
        """From now on, nats-2 hears the others (and they it) `delay` seconds late."""
        for proxy in self._proxies:
            proxy.delay = delay


@contextlib.asynccontextmanager
async def lagging_cluster(root: Path) -> AsyncIterator[Lag]:
    """Three nodes, nats-2 behind delaying proxies on every route; stopped afterwards."""
    cluster_ports = [free_port() for _ in range(3)]
    proxies = [  # (from, to) -> a proxy to `to`'s cluster port, for routes involving nats-2
        DelayingProxy(f"{a}-{b}", free_port(), cluster_ports[b])
        for a, b in ((0, 2), (1, 2), (2, 0), (2, 1))
    ]
    via = {proxy.name: proxy.listen_port for proxy in proxies}
    for proxy in proxies:
        await proxy.start()

    def route(a: int, b: int) -> str:
        port = via.get(f"{a}-{b}", cluster_ports[b])
        return f'"nats-route://127.0.0.1:{port}"'

    nodes = [
        EmbeddedNats(
            root / f"nats-{a}",
            server_name=f"nats-{a}",
            extra_config=(
                f'cluster {{\n  name: "lag"\n  listen: "127.0.0.1:{cluster_ports[a]}"\n'
                f"  routes: [{', '.join(route(a, b) for b in range(3) if b != a)}]\n"
                "  no_advertise: true\n}"
            ),
        )
        for a in range(3)
    ]
    try:
        await asyncio.gather(*(asyncio.to_thread(node.start, 120) for node in nodes))
        yield Lag(nodes, proxies)
    finally:
        await asyncio.gather(*(asyncio.to_thread(node.stop) for node in nodes))
        for proxy in proxies:
            await proxy.close()


async def connect(node: EmbeddedNats) -> NATS:
    """A client of that node alone."""

    async def quiet(error: Exception) -> None:
        pass

    return await nats.connect(
        [node.url], error_cb=quiet, connect_timeout=10, max_reconnect_attempts=-1
    )


async def ensure_replicated_streams(nc: NATS, timeout: float = 60) -> None:
    """Creates the event streams at three replicas once the meta group places them: right
    after a start (or under load) a node may not yet count as an online peer, and the
    server refuses with 10005 'no suitable peers for placement' until it does."""
    js = nc.jetstream()
    async with asyncio.timeout(timeout):
        while True:
            try:
                await ensure_streams(js, StreamSettings(replicas=3))
                return
            except nats.js.errors.BadRequestError as error:
                if error.err_code != PLACEMENT_FAILED:
                    raise
            except (nats.js.errors.ServiceUnavailableError, nats.errors.TimeoutError):
                pass  # no meta leader yet
            await asyncio.sleep(0.5)


async def lead_elsewhere(nc: NATS, stream: str, timeout: float = 60) -> str:
    """Steps the stream's leader down until it is not the lagging node; its name."""
    js = nc.jetstream()
    async with asyncio.timeout(timeout):
        while True:
            with contextlib.suppress(nats.errors.Error, TimeoutError):
                info = await js.stream_info(stream)
                leader = info.cluster.leader if info.cluster else None
                if leader and leader != LAGGING:
                    return str(leader)
                if leader == LAGGING:
                    await nc.request(f"$JS.API.STREAM.LEADER.STEPDOWN.{stream}", b"", 5)
            await asyncio.sleep(0.5)


async def wait_current(nc: NATS, stream: str, timeout: float = 60) -> None:
    """Until every replica of `stream` reports itself current (a settled start)."""
    async with asyncio.timeout(timeout):
        while True:
            info = json.loads((await nc.request(f"$JS.API.STREAM.INFO.{stream}", b"", 5)).data)
            replicas = info.get("cluster", {}).get("replicas", [])
            if len(replicas) == 2 and all(r.get("current") for r in replicas):
                return
            await asyncio.sleep(0.2)
