"""What the soak runs against: `tally up` (everything in one process, embedded NATS and
PostgreSQL as its children), or the chaos run's deployment without faults (a 3-node
cluster, PostgreSQL and two of each role), so that each role's memory shows on its own."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Protocol

import httpx
import psutil

from chaos.deployment import Deployment, _clean_env
from chaos.processes import TALLY, ChildProcess
from chaos.shape import DeploymentShape
from tally.embedded import free_port


class Target(Protocol):
    base_url: str

    def start(self) -> None: ...

    def pids(self) -> dict[str, int | None]: ...

    def stop(self) -> None: ...


class TallyUp:
    """`tally up` in a data dir of its own; the embedded servers and the role processes
    (api, fulfil, project) are found as its children."""

    def __init__(self) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="tally-soak-", dir="/tmp"))
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        argv = [TALLY, "up", "--port", str(port), "--data-dir", str(self.home / "data")]
        env = _clean_env() | {"TALLY_LOG_LEVEL": "warning"}
        self.process = ChildProcess("tally-up", argv, env, self.home / "tally-up.log")

    def start(self) -> None:
        self.process.start()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base_url}/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if not self.process.alive:
                break
            time.sleep(0.5)
        raise RuntimeError(f"tally up did not become ready:\n{self.process.tail()}")

    def pids(self) -> dict[str, int | None]:
        found: dict[str, int | None] = {"tally-up": self.process.pid}
        if self.process.pid is None:
            return found
        for child in psutil.Process(self.process.pid).children(recursive=True):
            try:
                name, parent = child.name(), child.parent()
            except psutil.Error:
                continue
            if name == "nats-server":
                found["nats"] = child.pid
            elif role := _tally_role(child):  # `tally up`'s role processes
                found[role] = child.pid
            elif name == "postgres" and parent is not None and parent.name() != "postgres":
                found["postgres"] = child.pid  # the postmaster, not a backend
        return found

    def stop(self) -> None:
        self.process.stop(60)
        shutil.rmtree(self.home, ignore_errors=True)


class Cluster:
    """The chaos deployment, no faults; the load goes to its first API process."""

    def __init__(self, seed: int = 21) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="tally-soak-", dir="/tmp"))
        self.deployment = Deployment(self.home, DeploymentShape(), seed, faults=False)
        self.base_url = self.deployment.api_urls[0]

    def start(self) -> None:
        self.deployment.start()

    def pids(self) -> dict[str, int | None]:
        found: dict[str, int | None] = {n: r.pid for n, r in self.deployment.roles.items()}
        for node in self.deployment.cluster.nodes:
            found[node.server_name] = node.pid
        found["postgres"] = self.deployment.postgres.pid
        return found

    def stop(self) -> None:
        self.deployment.close()
        shutil.rmtree(self.home, ignore_errors=True)


def _tally_role(process: psutil.Process) -> str | None:
    """`api`, `fulfil` or `project` for a `python -m tally.cli <role>` process."""
    try:
        argv: list[str] = process.cmdline()
    except psutil.Error:
        return None
    after = argv[argv.index("tally.cli") + 1 :] if "tally.cli" in argv else []
    return after[0] if after else None
