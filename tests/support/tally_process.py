"""`tally up` as a child process, for end-to-end tests."""

import contextlib
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

from tally.embedded.postgres_server import with_database
from tally.env_file import parse_env

TALLY = str(Path(sys.executable).parent / "tally")


class RunningTally:
    def __init__(self, data_dir: Path, port: int, log: Path) -> None:
        self.data_dir, self.port, self.log = data_dir, port, log
        self.stdout = log.with_name(log.name + ".stdout")  # the start banner
        env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "DATABASE_URL")} | {
            "TALLY_LOG_FORMAT": "json"
        }
        self.proc = subprocess.Popen(
            [TALLY, "up", "--port", str(port), "--data-dir", str(data_dir)],
            stdout=self.stdout.open("ab"),
            stderr=log.open("ab"),
            env=env,
        )
        self.base = f"http://127.0.0.1:{port}"

    def wait_ready(self, timeout: float = 180) -> None:  # role processes import slowly when busy
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

    def written(self) -> dict[str, str]:
        """What `tally up` wrote to `<data-dir>/env` for the other commands."""
        return parse_env((self.data_dir / "env").read_text())

    def nats_url(self) -> str:
        return self.written()["NATS_URL"]

    def database_url(self, name: str = "tally") -> str:
        """The embedded PostgreSQL's URL (with the password kept in the data dir)."""
        return with_database(self.written()["DATABASE_URL"], name)

    def shut_down(self) -> None:
        """Stop it as Ctrl-C would, so it stops its embedded servers; kill it only if that
        does not work in time (which would leave its servers behind)."""
        if self.proc.poll() is not None:
            return
        try:
            self.stop()
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def stop(self, timeout: float = 30) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout)


@contextlib.contextmanager
def running_tally(port: int) -> Iterator[RunningTally]:
    """`tally up` on `port`, ready, in a data dir of its own, killed and removed afterwards.

    Not under pytest's tmp_path: PostgreSQL runs as another user and must traverse it.
    """
    home = Path(tempfile.mkdtemp(prefix="tally-e2e-", dir="/tmp"))
    running = RunningTally(home / "data", port, home / "tally.log")
    try:
        running.wait_ready()
        yield running
    finally:
        running.shut_down()
        shutil.rmtree(home, ignore_errors=True)
