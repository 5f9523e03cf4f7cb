"""docker/nats/nats.conf itself, run on loopback: three nodes started as compose starts
them (the shared config file, `--name`, the node's environment), with only the addresses
moved to free loopback ports and the store to a temp dir. For the tests of what the
shipped cluster configuration lets in and what it keeps out."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tally.embedded._process import terminate
from tally.embedded.nats_server import find_nats_server, jetstream_answers
from tally.embedded.ports import free_port

CONF = Path(__file__).resolve().parents[2] / "docker" / "nats" / "nats.conf"
ROLES = ("api", "projector", "fulfil", "admin", "sys")


class NatsProcess:
    """One nats-server with a config file and an environment of its own."""

    def __init__(self, home: Path, name: str, config: str, env: dict[str, str]) -> None:
        self.home, self.name = home, name
        self.client_port = free_port("127.0.0.1")
        home.mkdir(parents=True, exist_ok=True)
        self.config = home / "nats.conf"
        self.config.write_text(config.replace("$CLIENT_PORT", str(self.client_port)))
        self.log = home / "nats-server.log"
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(find_nats_server()), "--config", str(self.config), "--name", self.name],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_log(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log.read_text(errors="replace"):
                return
            assert self.proc is not None and self.proc.poll() is None, self.log.read_text()
            time.sleep(0.05)
        raise AssertionError(f"{self.name}: no {text!r} in its log:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.proc is not None:
            terminate(self.proc, signal.SIGTERM, 10)
            self.proc = None


def on_loopback(conf: str, store: Path) -> str:
    """The docker config with the client port and the store moved: `$CLIENT_PORT` is
    filled in by NatsProcess. Nothing else changes."""
    conf = re.sub(r"(?m)^port: 4222$", 'listen: "127.0.0.1:$CLIENT_PORT"', conf)
    return conf.replace("store_dir: /data", f"store_dir: {json.dumps(str(store))}")


class DockerNatsCluster:
    """The three nodes of docker/compose.yml, each with the environment compose gives it."""

    def __init__(self, root: Path, passwords: dict[str, str], route_password: str) -> None:
        self.passwords = passwords
        self.route_ports = [free_port("127.0.0.1") for _ in range(3)]
        self.monitor_ports = [free_port("127.0.0.1") for _ in range(3)]
        shared = {f"NATS_{role.upper()}_PASSWORD": passwords[role] for role in ROLES}
        shared["NATS_ROUTE_PASSWORD"] = route_password
        for index, port in enumerate(self.route_ports, 1):
            shared[f"NATS_ROUTE_{index}"] = f"nats-route://route:{route_password}@127.0.0.1:{port}"
        self.nodes = []
        for index in range(3):
            env = shared | {
                "NATS_CLUSTER_LISTEN": f"127.0.0.1:{self.route_ports[index]}",
                "NATS_MONITOR_LISTEN": f"127.0.0.1:{self.monitor_ports[index]}",
            }
            home = root / f"nats-{index + 1}"
            config = on_loopback(CONF.read_text(), home / "data")
            self.nodes.append(NatsProcess(home, f"nats-{index + 1}", config, env))

    def url(self, index: int = 0) -> str:
        return f"nats://127.0.0.1:{self.nodes[index].client_port}"

    def start(self, timeout: float = 60) -> None:
        for node in self.nodes:
            node.start()
        admin = ("admin", self.passwords["admin"])
        deadline = time.monotonic() + timeout

        def ready(node: NatsProcess) -> None:
            while not jetstream_answers("127.0.0.1", node.client_port, credentials=admin):
                assert time.monotonic() < deadline, node.log.read_text()[-3000:]
                time.sleep(0.1)

        with ThreadPoolExecutor(3) as pool:
            list(pool.map(ready, self.nodes))

    def stop(self) -> None:
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(lambda node: node.stop(), self.nodes))
