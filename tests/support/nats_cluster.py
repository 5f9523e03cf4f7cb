"""Three embedded NATS servers clustered on loopback ports, JetStream on each: the
docker compose topology on one machine, for the fault suite."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tally.embedded import EmbeddedNats
from tally.embedded.ports import free_port


class NatsCluster:
    def __init__(self, root: Path, size: int = 3, name: str = "tally") -> None:
        route_ports = [free_port("127.0.0.1") for _ in range(size)]
        routes = ", ".join(f'"nats-route://127.0.0.1:{port}"' for port in route_ports)
        self.nodes = [
            EmbeddedNats(
                root / f"node-{index}",
                server_name=f"node-{index}",
                extra_config=(
                    f'cluster {{\n  name: "{name}"\n  listen: "127.0.0.1:{port}"\n'
                    f"  routes: [{routes}]\n}}"
                ),
            )
            for index, port in enumerate(route_ports)
        ]

    @property
    def url(self) -> str:
        """Every node's URL, comma-separated (as NATS_URL takes them)."""
        return ",".join(node.url for node in self.nodes)

    def node(self, server_name: str) -> EmbeddedNats:
        return next(node for node in self.nodes if node.server_name == server_name)

    def start(self, timeout: float = 60) -> None:
        """All nodes at once: JetStream answers only once a meta leader is elected."""
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            for future in [pool.submit(node.start, timeout) for node in self.nodes]:
                future.result()

    def stop(self) -> None:
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(lambda node: node.stop(), self.nodes))
