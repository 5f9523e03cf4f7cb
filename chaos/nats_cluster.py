"""Three embedded NATS servers clustered on loopback ports, JetStream on each, streams at
three replicas: the production topology on one machine. Nodes do not advertise their
client ports, so clients know only the addresses they were given (the delaying proxies)."""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nats
import nats.errors
from nats.aio.client import Client as NATS

from tally.embedded import EmbeddedNats
from tally.embedded.ports import free_port


class NatsCluster:
    def __init__(self, root: Path, size: int = 3, name: str = "tally") -> None:
        route_ports = [free_port("127.0.0.1") for _ in range(size)]
        routes = ", ".join(f'"nats-route://127.0.0.1:{port}"' for port in route_ports)
        self.nodes = [
            EmbeddedNats(
                root / f"nats-{index}",
                server_name=f"nats-{index}",
                extra_config=(
                    f'cluster {{\n  name: "{name}"\n  listen: "127.0.0.1:{port}"\n'
                    f"  routes: [{routes}]\n  no_advertise: true\n}}"
                ),
            )
            for index, port in enumerate(route_ports)
        ]

    @property
    def url(self) -> str:
        """Every node's own URL, comma-separated (as NATS_URL takes them)."""
        return ",".join(node.url for node in self.nodes)

    def node(self, server_name: str) -> EmbeddedNats:
        return next(node for node in self.nodes if node.server_name == server_name)

    def start(self, timeout: float = 120) -> None:
        """All nodes at once: JetStream answers only once a meta leader is elected."""
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            for future in [pool.submit(node.start, timeout) for node in self.nodes]:
                future.result()

    def stop(self) -> None:
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(lambda node: node.stop(), self.nodes))


async def connect(url: str) -> NATS:
    """A client of the harness's own, straight to the nodes (not through the proxies)."""

    async def quiet(error: Exception) -> None:
        pass

    return await nats.connect(
        url.split(","),
        connect_timeout=5,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        error_cb=quiet,
    )


async def stream_leader(nc: NATS, stream: str) -> str | None:
    """The server name of `stream`'s leader, None while there is none (or no answer)."""
    with contextlib.suppress(nats.errors.Error, TimeoutError, asyncio.TimeoutError):
        info = await nc.jetstream().stream_info(stream)
        if info.cluster is not None and info.cluster.leader:
            return str(info.cluster.leader)
    return None
