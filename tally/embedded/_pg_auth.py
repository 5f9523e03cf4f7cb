"""Password authentication for the embedded PostgreSQL: the superuser's password, made
at random and kept in a file of mode 0600 beside the data dir, and pg_hba.conf lines that
all ask for scram-sha-256 (over TCP and over the unix socket alike)."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tally.embedded._pg_install import Owner

__all__ = ["AUTH", "new_password", "password_file_for", "read_password", "scram_only", "trusts"]

AUTH = "scram-sha-256"
_TRUST = re.compile(r"^(\s*(?:local|host)\S*\s.*\s)trust(\s*)$", re.MULTILINE)


def password_file_for(data_dir: Path) -> Path:
    """`<data_dir>.password`: beside the data dir (which belongs to the server's user)."""
    return data_dir.with_name(data_dir.name + ".password")


def new_password(path: Path) -> str:
    """A random password, written to `path` (0600, replaced atomically) and returned."""
    password = secrets.token_urlsafe(32)
    partial = path.with_name(path.name + ".new")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(password + "\n")
    partial.replace(path)
    return password


def read_password(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return None


@contextlib.contextmanager
def initdb_pwfile(password: str, owner: Owner) -> Iterator[Path]:
    """A file with `password` for `initdb --pwfile`, readable by the server's user only,
    removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="tally-initdb-") as scratch:
        path = Path(scratch) / "pwfile"
        path.write_text(password + "\n")
        path.chmod(0o600)
        if owner is not None:
            os.chown(scratch, *owner)
            os.chown(path, *owner)
        yield path


def trusts(hba: Path) -> bool:
    """True when pg_hba.conf lets anyone in without a password (`--auth=trust`)."""
    return hba.exists() and _TRUST.search(hba.read_text()) is not None


def scram_only(hba: Path) -> None:
    """Turn every `trust` line of pg_hba.conf into scram-sha-256."""
    hba.write_text(_TRUST.sub(rf"\g<1>{AUTH}\g<2>", hba.read_text()))
