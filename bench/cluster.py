"""The system under test for `python -m bench`: its own NATS and PostgreSQL, migrated, and
the role processes (`tally api`, `tally project`, `tally fulfil`) with a peak-RSS watch."""

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from bench.harness import VENV_BIN, port
from tally.embedded.nats_server import EmbeddedNats
from tally.embedded.postgres_server import EmbeddedPostgres

TALLY = str(VENV_BIN / "tally")


@dataclass
class PeakRss:
    """Samples the resident set of named processes every 100 ms; keeps each one's peak."""

    pids: dict[str, int] = field(default_factory=dict)
    peaks: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def watch(self, role: str, pid: int) -> None:
        self.pids[role] = pid

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            for role, pid in list(self.pids.items()):
                try:
                    rss = psutil.Process(pid).memory_info().rss
                except psutil.Error:
                    continue
                self.peaks[role] = max(self.peaks.get(role, 0), rss)

    @contextmanager
    def running(self) -> Iterator["PeakRss"]:
        thread = threading.Thread(target=self._sample, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()


@dataclass
class Role:
    name: str
    proc: subprocess.Popen[bytes]
    url: str = ""  # the HTTP roles

    def wait_ready(self) -> "Role":
        if self.url:
            _wait_ready(self.proc, f"{self.url}/health")
        return self

    def pause(self) -> None:
        """SIGSTOP: the role takes no CPU while another row is measured; its durable
        consumer keeps its place and it catches up once resumed."""
        psutil.Process(self.proc.pid).suspend()

    def resume(self) -> None:
        psutil.Process(self.proc.pid).resume()


class Cluster:
    """Servers started and `tally migrate` launched on entering; `migrated()` waits for it.
    Roles start without waiting, so that several start at once (`Role.wait_ready`)."""

    def __init__(self, home: Path, *, sync_always: bool = False, postgres: bool = True) -> None:
        # nats-server's /varz: the confirm row's messages per order (bench.fulfilment_probe)
        self.nats = EmbeddedNats(home / "nats", sync_always=sync_always, monitor_port=port())
        self.postgres = EmbeddedPostgres(home / "pg") if postgres else None
        self.env: dict[str, str] = {}
        self.rss = PeakRss()
        self._stack = ExitStack()
        self._migrate: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "Cluster":
        self._stack.enter_context(self.rss.running())
        self.nats.start()
        self._stack.callback(self.nats.stop)
        env = {**os.environ, "NATS_URL": self.nats.url, "TALLY_LOG_LEVEL": "info"}
        env.pop("DATABASE_URL", None)
        if self.postgres is not None:
            self.postgres.start()
            self._stack.callback(self.postgres.stop)
            env["DATABASE_URL"] = self.postgres.create_database("bench")
        self.env = env
        self._migrate = subprocess.Popen(
            [TALLY, "migrate"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        return self

    def migrated(self) -> "Cluster":
        if self._migrate is not None and self._migrate.wait(120) != 0:
            raise RuntimeError("tally migrate failed")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    @property
    def monitor_url(self) -> str:
        return f"http://127.0.0.1:{self.nats.monitor_port}"

    @property
    def dsn(self) -> str:
        return self.env["DATABASE_URL"]

    def start(self, *args: str, url: str = "", name: str = "", **env: str) -> Role:
        """Starts `tally <args>` (with `env` added to the cluster's); its log goes to
        /dev/null (info level: the per-command line is rendered and written, as in
        production)."""
        proc = subprocess.Popen(
            [TALLY, *args],
            env=self.env | env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._stack.callback(_stop, proc)
        role = Role(name or args[0], proc, url)
        self.rss.watch(role.name, proc.pid)
        return role

    def api(self, **env: str) -> Role:
        api_port = port()
        url = f"http://127.0.0.1:{api_port}"
        return self.start("api", "--port", str(api_port), url=url, **env)

    def api_workers(self, count: int) -> Role:
        """`tally api --workers count`: one listening port shared by `count` processes (its
        peak RSS is the parent's, named `api-workers`)."""
        api_port = port()
        url = f"http://127.0.0.1:{api_port}"
        argv = ("api", "--port", str(api_port), "--workers", str(count))
        return self.start(*argv, url=url, name="api-workers")


@contextmanager
def profiled(pid: int, out: Path | None, label: str) -> Iterator[None]:
    """py-spy record (raw collapsed stacks, 100 Hz) of `pid` while the block runs."""
    if out is None:
        yield
        return
    out.mkdir(parents=True, exist_ok=True)
    target = ["-p", str(pid), "-o", str(out / f"{label}.txt")]
    spy = subprocess.Popen(
        [str(VENV_BIN / "py-spy"), "record", "-f", "raw", "-r", "100", *target],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        spy.wait(60)


def _wait_ready(proc: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{proc.args!r} did not start")
        time.sleep(0.2)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        psutil.Process(proc.pid).resume()
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
