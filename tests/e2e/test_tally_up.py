"""`tally up` from the outside: embedded servers, a command over HTTP, the event on NATS
seen by a plain nats-py client, a clean stop on SIGINT, and data that survives a restart."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import nats
import pytest

from tally.embedded.ports import free_port

pytestmark = pytest.mark.e2e
TALLY = str(Path(sys.executable).parent / "tally")


class RunningTally:
    def __init__(self, data_dir: Path, port: int, log: Path) -> None:
        self.data_dir, self.port, self.log = data_dir, port, log
        env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "DATABASE_URL")} | {
            "TALLY_LOG_FORMAT": "json"
        }
        self.proc = subprocess.Popen(
            [TALLY, "up", "--port", str(port), "--data-dir", str(data_dir)],
            stdout=subprocess.DEVNULL,
            stderr=log.open("ab"),
            env=env,
        )
        self.base = f"http://127.0.0.1:{port}"

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(f"{self.base}/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise AssertionError("tally up did not become ready:\n" + self.log.read_text()[-3000:])

    def nats_url(self) -> str:
        for line in self.log.read_text().splitlines():
            if line.startswith("{") and "embedded NATS started" in line:
                url: str = json.loads(line)["url"]
                return url
        raise AssertionError("no NATS url in the log")

    def stop(self, timeout: float = 30) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout)


@pytest.fixture
def tally_up() -> Iterator[RunningTally]:
    # Not pytest's tmp_path: PostgreSQL runs as another user and must traverse the path.
    home = Path(tempfile.mkdtemp(prefix="tally-e2e-", dir="/tmp"))
    running = RunningTally(home / "data", free_port(), home / "tally.log")
    try:
        running.wait_ready()
        yield running
    finally:
        if running.proc.poll() is None:
            running.proc.kill()
            running.proc.wait()
        shutil.rmtree(home, ignore_errors=True)


async def test_place_an_order_and_see_the_event_on_nats(tally_up: RunningTally) -> None:
    async with httpx.AsyncClient(base_url=tally_up.base) as http:
        order = {"customer_id": "c1", "lines": [{"sku": "S1", "quantity": 1, "unit_price": "5"}]}
        answer = await http.post("/orders", json=order, headers={"X-Correlation-ID": "e2e-1"})
    assert answer.status_code == 202
    order_id = answer.json()["order_id"]

    nc = await nats.connect(tally_up.nats_url())
    try:
        message = await nc.jetstream().get_last_msg("ORDERS", f"orders.{order_id}")
    finally:
        await nc.close()
    assert message.headers is not None
    assert message.headers["Tally-Event-Type"] == "OrderPlaced"
    assert message.headers["Tally-Correlation-Id"] == "e2e-1"
    assert json.loads(message.data or b"")["total"] == "5.00"

    assert tally_up.stop() == 0
    # The same data dir again: the stream still holds the order.
    again = RunningTally(tally_up.data_dir, free_port(), tally_up.log)
    try:
        again.wait_ready()
        async with httpx.AsyncClient(base_url=again.base) as http:
            cancel = await http.post(f"/orders/{order_id}/cancel", json={})
        assert cancel.status_code == 202
        assert cancel.json()["position"] == "ORDERS:2"
        assert again.stop() == 0
    finally:
        if again.proc.poll() is None:
            again.proc.kill()
