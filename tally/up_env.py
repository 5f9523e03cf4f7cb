"""How the other commands find the servers of a `tally up`: it writes the connection
settings it uses to `<data-dir>/env` (mode 0600: the database URL carries the embedded
PostgreSQL's password, the one kept in `<data-dir>/postgres.password`), and every command
run without `NATS_URL` and `DATABASE_URL` reads them from there. The file stays after a
stop: the next start takes the same ports again when they are free."""

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from tally.env_file import env_line, parse_env, write_private

__all__ = ["UpEnvironment", "env_file_of", "kept_port", "read_up_env", "write_up_env"]

ENV_FILE = "env"
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def env_file_of(data_dir: Path) -> Path:
    return Path(data_dir) / ENV_FILE


@dataclass(frozen=True)
class UpEnvironment:
    """What a `tally up` wrote: its NATS and PostgreSQL URLs (as given to its roles)."""

    path: Path
    nats_url: str | None
    database_url: str | None


def write_up_env(data_dir: Path, *, nats_url: str, database_url: str | None, api_url: str) -> Path:
    path = env_file_of(data_dir)
    lines = [
        f"# The servers of `tally up` (pid {os.getpid()}, {time.strftime('%Y-%m-%d %H:%M:%S')})",
        "# for data dir " + str(Path(data_dir).resolve()) + "; every tally command run",
        "# without NATS_URL and DATABASE_URL reads this file. The API: " + api_url,
        env_line("NATS_URL", nats_url),
    ]
    if database_url is not None:
        lines.append(env_line("DATABASE_URL", database_url))
    write_private(path, lines)
    return path


def read_up_env(data_dir: Path) -> UpEnvironment | None:
    """The settings a `tally up` of `data_dir` wrote; None when none did (or unreadable)."""
    path = env_file_of(data_dir)
    try:
        values = parse_env(path.read_text())
    except (FileNotFoundError, NotADirectoryError):
        return None
    return UpEnvironment(path, values.get("NATS_URL"), values.get("DATABASE_URL"))


def kept_port(url: str | None) -> int | None:
    """The port of a loopback server in `url` (what an embedded server of the last start
    listened on), to take again; None for anything else."""
    if not url or "," in url:
        return None
    with contextlib.suppress(ValueError):
        parts = urlsplit(url)
        if parts.hostname in _LOOPBACK and parts.port:
            return parts.port
    return None
