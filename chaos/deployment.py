"""The system under test, on loopback: a 3-node NATS cluster, PostgreSQL, a delaying proxy
in front of each server, the chaos payment gateway, `tally migrate`, and the role
processes of a `DeploymentShape`. The roles reach NATS and PostgreSQL only through the
proxies; the harness's own checks go straight to the servers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx

from chaos.nats_cluster import NatsCluster
from chaos.processes import TALLY, ChildProcess, tally
from chaos.shape import DeploymentShape
from tally.embedded import EmbeddedPostgres, free_port, with_database

ROOT = Path(__file__).resolve().parents[1]
PAYMENT_LIMIT = "400"  # the gateway declines larger totals
# A killed PostgreSQL loses nothing without fsync (the OS keeps what it wrote); the disk
# is shared with other work, so spare it.
POSTGRES_SETTINGS = {"fsync": "off", "full_page_writes": "off", "max_connections": "300"}


def _wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALLY_")}
    env.pop("NATS_URL", None)
    env.pop("DATABASE_URL", None)
    env["PYTHONPATH"] = str(ROOT)
    return env


class Deployment:
    def __init__(
        self, home: Path, shape: DeploymentShape, seed: int, *, faults: bool = True
    ) -> None:
        """`faults`: the gateway fails and answers late at random (else it is calm)."""
        self.home, self.shape, self.seed, self.faults = home, shape, seed, faults
        self.logs = home / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.cluster = NatsCluster(home / "nats")
        self.postgres = EmbeddedPostgres(home / "pg", settings=POSTGRES_SETTINGS)
        self.proxy_ports = {name: free_port() for name in self.proxied}
        self.gateway_port = free_port()
        self.api_ports = [free_port() for _ in range(shape.apis)]
        self.roles: dict[str, ChildProcess] = {}
        self.proxy: ChildProcess | None = None
        self.gateway: ChildProcess | None = None
        self.env: dict[str, str] = {}

    @property
    def proxied(self) -> list[str]:
        return [node.server_name for node in self.cluster.nodes] + ["postgres"]

    @property
    def direct_nats_url(self) -> str:
        return self.cluster.url

    @property
    def direct_database_url(self) -> str:
        return with_database(self.postgres.url, "tally")

    @property
    def api_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.api_ports]

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def start(self) -> None:
        self.cluster.start()
        self.postgres.start()
        self.postgres.create_database("tally")
        self._start_proxy()
        self._start_gateway()
        nats_url = ",".join(
            f"nats://127.0.0.1:{self.proxy_ports[node.server_name]}" for node in self.cluster.nodes
        )
        login = f"postgres:{quote(self.postgres.password, safe='')}"
        database = f"postgresql://{login}@127.0.0.1:{self.proxy_ports['postgres']}/tally"
        self.env = _clean_env() | {
            "NATS_URL": nats_url,
            "DATABASE_URL": database,
            "TALLY_STREAM_REPLICAS": "3",
            "TALLY_PAYMENT_URL": self.gateway_url,
            "TALLY_LOG_FORMAT": "json",
            "TALLY_NATS_CONNECT_TIMEOUT": "300",
            "TALLY_DB_POOL_SIZE": "5",
        }
        if self.shape.partitions:  # `tally migrate` splits ORDERS and STOCK
            self.env["TALLY_PARTITIONS"] = str(self.shape.partitions)
        done = subprocess.run(
            [TALLY, "migrate"], env=self.env, capture_output=True, timeout=300, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"tally migrate failed:\n{done.stderr.decode()[-3000:]}")
        self._define_roles()
        for role in self.roles.values():
            role.start()
        for name, url in zip(self.api_names, self.api_urls, strict=True):
            self.wait_http(self.roles[name], f"{url}/health")

    @property
    def api_names(self) -> list[str]:
        return [f"api-{index}" for index in range(self.shape.apis)]

    def _define_roles(self) -> None:
        for name, port in zip(self.api_names, self.api_ports, strict=True):
            args = ["api", "--host", "127.0.0.1", "--port", str(port)]
            self.roles[name] = tally(name, args, self.env, self.logs)
        for index in range(self.shape.fulfils):
            self.roles[f"fulfil-{index}"] = tally(
                f"fulfil-{index}", ["fulfil"], self.env, self.logs
            )
        for name, args in self.shape.projector_args().items():
            self.roles[name] = tally(name, args, self.env, self.logs)

    def _start_proxy(self) -> None:
        targets = {node.server_name: node.port for node in self.cluster.nodes}
        targets["postgres"] = self.postgres.port
        routes = [f"{name}={self.proxy_ports[name]}:{targets[name]}" for name in self.proxied]
        argv = [sys.executable, "-m", "chaos.proxy", *routes]
        self.proxy = ChildProcess(
            "proxy", argv, _clean_env(), self.logs / "proxy.log", control=True
        )
        self.proxy.start()
        for port in self.proxy_ports.values():
            _wait_port(port)

    def _start_gateway(self) -> None:
        argv = [sys.executable, "-m", "chaos.gateway", str(self.gateway_port)]
        argv += [str(self.seed), PAYMENT_LIMIT, *([] if self.faults else ["calm"])]
        log = self.logs / "gateway.log"
        self.gateway = ChildProcess("gateway", argv, _clean_env(), log, control=True)
        self.gateway.start()
        _wait_port(self.gateway_port)

    @staticmethod
    def wait_http(role: ChildProcess, url: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not role.alive:
                raise RuntimeError(f"{role.name} exited:\n{role.tail()}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{url} not answering after {timeout:.0f} s:\n{role.tail()}")

    def set_delay(self, target: str, seconds: float) -> None:
        assert self.proxy is not None
        self.proxy.send(f"delay {target} {seconds:.3f}")

    def set_gateway_slow(self, seconds: float) -> None:
        assert self.gateway is not None
        self.gateway.send(f"slow {seconds:.3f}")

    def heal(self) -> list[str]:
        """Undo every fault still in effect; what had to be undone."""
        undone = []
        for node in self.cluster.nodes:
            if not node.running:
                node.start(120)
                undone.append(f"started {node.server_name}")
        if not self.postgres.running:
            self.postgres.start()
            undone.append("started postgres")
        for name in self.proxied:
            self.set_delay(name, 0)
        self.set_gateway_slow(0)
        for role in self.roles.values():
            if role.paused:
                role.resume()
                undone.append(f"resumed {role.name}")
            if not role.alive:
                role.start()
                undone.append(f"restarted {role.name}")
        return undone

    def close(self) -> None:
        for role in self.roles.values():
            role.stop()
        for child in (self.proxy, self.gateway):
            if child is not None:
                child.stop(10)
        self.cluster.stop()
        self.postgres.stop()
