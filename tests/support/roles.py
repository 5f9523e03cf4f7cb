"""`tally <role>` child processes (migrate, api, project, fulfil) against test servers,
for the fault suite: started with NATS_URL / DATABASE_URL in their environment, killed
with SIGKILL or stopped with SIGINT, their stderr kept in a log file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

TALLY = str(Path(sys.executable).parent / "tally")


def role_env(nats_url: str, database_url: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a role: ours minus any TALLY_* / server settings, plus these."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("TALLY_") and key not in ("NATS_URL", "DATABASE_URL")
    }
    env |= {"NATS_URL": nats_url, "TALLY_LOG_FORMAT": "json", "TALLY_NATS_CONNECT_TIMEOUT": "60"}
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return env | extra


def migrate(env: dict[str, str], timeout: float = 60) -> None:
    done = subprocess.run(
        [TALLY, "migrate"], env=env, capture_output=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]


class Role:
    """One `tally` child process; `start` again after a kill runs a new one."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args, self.env, self.log = args, env, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, **extra_env: str) -> Role:
        assert not self.alive, f"tally {self.args[0]} is already running"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [TALLY, *self.args],
                env=self.env | extra_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )
        self.starts += 1
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL, as in a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 20) -> None:
        """SIGINT (a clean stop), SIGKILL after `timeout`."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def wait_exit(self, timeout: float) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"tally {self.args[0]} still running:\n{self.tail()}") from None

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def wait_http(self, base: str, path: str = "/health", timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.alive, f"tally {self.args[0]} exited:\n{self.tail()}"
            try:
                if httpx.get(f"{base}{path}", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{base}{path} not answering:\n{self.tail()}")


def api_role(env: dict[str, str], port: int, log: Path) -> Role:
    return Role(["api", "--host", "127.0.0.1", "--port", str(port)], env, log)
