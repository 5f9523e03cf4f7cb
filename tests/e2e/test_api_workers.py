"""`tally api --workers 2`: two API processes on one port (SO_REUSEPORT), each with its own
NATS connection and state cache; concurrent commands on one aggregate through both stay
correct by OCC; a crashed worker is started again; SIGTERM stops them all."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import nats
import psutil
import pytest

from support.servers import NatsServer
from tally.embedded.ports import free_port

pytestmark = pytest.mark.e2e
TALLY = str(Path(sys.executable).parent / "tally")


def workers_of(parent: subprocess.Popen[bytes], count: int, timeout: float = 120) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = psutil.Process(parent.pid).children()
        if len(children) == count:
            return [child.pid for child in children]
        time.sleep(0.1)
    raise AssertionError(f"expected {count} workers")


def listens_on(pid: int, port: int) -> bool:
    sockets = psutil.Process(pid).net_connections()
    return any(s.status == psutil.CONN_LISTEN and s.laddr.port == port for s in sockets)


def wait_ready(base: str, timeout: float = 180) -> None:  # busy machine: slow imports
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("the API workers did not start")


@pytest.fixture
def api(
    nats_server: NatsServer, tmp_path: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes], str]]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {"NATS_URL": nats_server.url, "TALLY_LOG_FORMAT": "json"}
    subprocess.run([TALLY, "migrate"], env=env, check=True, capture_output=True)
    port = free_port()
    log = (tmp_path / "api.log").open("wb")
    proc = subprocess.Popen(
        [TALLY, "api", "--port", str(port), "--workers", "2"], env=env, stderr=log
    )
    try:
        yield f"http://127.0.0.1:{port}", proc, nats_server.url
    finally:
        if proc.poll() is None:
            workers = psutil.Process(proc.pid).children()  # before they lose their parent
            proc.kill()
            proc.wait()
            psutil.wait_procs(workers, timeout=30)  # SIGTERM on their parent's death
            for worker in workers:
                if worker.is_running():
                    worker.kill()


@pytest.mark.timeout(600)  # three worker starts: minutes when the machine is busy
async def test_two_workers_share_the_port_and_stay_correct(
    api: tuple[str, subprocess.Popen[bytes], str],
) -> None:
    base, proc, nats_url = api
    workers = workers_of(proc, 2)
    await asyncio.to_thread(wait_ready, base)
    port = int(base.rpartition(":")[2])
    deadline = time.monotonic() + 120
    while not all(listens_on(pid, port) for pid in workers):  # both bound the one port
        assert time.monotonic() < deadline, "a worker never listened"
        await asyncio.sleep(0.2)

    async def receive(n: int) -> list[str]:
        positions = []
        for _ in range(n):  # a new connection each: the kernel spreads them
            async with httpx.AsyncClient(base_url=base, timeout=30) as http:
                answer = await http.post("/stock/W1/receive", json={"quantity": 1})
                assert answer.status_code == 202, answer.text
                positions.append(answer.json()["position"])
        return positions

    positions = [
        p for batch in await asyncio.gather(*(receive(10) for _ in range(8))) for p in batch
    ]
    assert len(set(positions)) == 80  # every receive its own event, none lost to a race
    nc = await nats.connect(nats_url)
    try:
        stream = await nc.jetstream().stream_info("STOCK", subjects_filter="stock.W1")
    finally:
        await nc.close()
    assert stream.state.subjects == {"stock.W1": 80}

    os.kill(workers[0], signal.SIGKILL)  # a crashed worker is started again
    replaced = await asyncio.to_thread(lambda: set(workers_of(proc, 2, timeout=60)))
    deadline = time.monotonic() + 60
    while workers[0] in replaced or len(replaced) != 2:
        assert time.monotonic() < deadline, "the killed worker was not replaced"
        await asyncio.sleep(0.2)
        replaced = set(workers_of(proc, 2))
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(proc.wait, 30) == 0
    assert not any(psutil.pid_exists(pid) for pid in replaced)
