"""Right after `tally up`, every other command finds its servers without NATS_URL or
DATABASE_URL: they come from `<data-dir>/env` (mode 0600), which names the same ports
after a restart; the banner says where everything is; a stopped `tally up` is one line."""

import asyncio
import json
import os
import stat
import subprocess
import time

import httpx
import pytest

from support.tally_process import TALLY, RunningTally, running_tally
from tally.embedded.ports import free_port

pytestmark = pytest.mark.e2e


def tally(up: RunningTally, *args: str) -> subprocess.CompletedProcess[str]:
    """A tally command as a newcomer runs it: no server settings in the environment."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("TALLY_") and key not in ("NATS_URL", "DATABASE_URL")
    }
    return subprocess.run(
        [TALLY, *args, "--data-dir", str(up.data_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_every_command_finds_tally_up() -> None:
    with running_tally(free_port()) as up:
        env_file = up.data_dir / "env"
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        written = up.written()
        banner = up.stdout.read_text()
        password = (up.data_dir / "postgres.password").read_text().strip()
        assert password in written["DATABASE_URL"]  # the kept password, not a new one
        assert f"http://127.0.0.1:{up.port}" in banner and written["NATS_URL"] in banner
        assert "postgresql://postgres:***@127.0.0.1:" in banner and password not in banner

        async with httpx.AsyncClient(base_url=up.base) as http:
            received = await http.post("/stock/S1/receive", json={"quantity": 3})
            assert received.status_code == 202

        status = await asyncio.to_thread(tally, up, "status", "--json")
        assert status.returncode == 0, status.stderr
        assert f"using the servers of `tally up` written to {env_file}" in status.stderr
        report = json.loads(status.stdout)
        assert {"ORDERS", "STOCK", "DLQ"} <= {stream["name"] for stream in report["streams"]}
        assert {view["name"] for view in report["projections"]} == {"orders", "stock"}

        listed = await asyncio.to_thread(tally, up, "dlq", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        assert json.loads(listed.stdout) == {"items": []}

        replayed = await asyncio.to_thread(tally, up, "replay", "orders", "--yes")
        assert replayed.returncode == 0, replayed.stderr
        assert "swapped in at ORDERS:" in replayed.stderr

        checked = await asyncio.to_thread(tally, up, "migrate", "--check")
        assert checked.returncode == 0, checked.stdout + checked.stderr

        assert up.stop() == 0
        started = time.monotonic()
        down = await asyncio.to_thread(tally, up, "status")
        assert down.returncode == 1
        lines = [line for line in down.stderr.splitlines() if "using the servers" not in line]
        assert lines == [
            f"tally: cannot connect to NATS at {written['NATS_URL']}: connection refused "
            f"(from {env_file}: is `tally up` running?)"
        ], down.stderr
        assert time.monotonic() - started < 60  # bounded: no retry loop (3 s to connect)

        again = RunningTally(up.data_dir, free_port(), up.log)
        try:
            again.wait_ready()
            assert again.written() == written  # the same ports, the same password
            assert again.stop() == 0
        finally:
            again.shut_down()
