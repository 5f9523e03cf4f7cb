"""Server handles for the test fixtures: embedded servers, or external ones from the env."""

from __future__ import annotations

import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn, Protocol

import asyncpg
import nats
import pytest

__all__ = [
    "ExternalNats",
    "ExternalPostgres",
    "NatsServer",
    "PostgresServer",
    "create_database",
    "drop_database",
    "purge_jetstream",
    "scratch_dir",
    "unique_database_name",
]


class NatsServer(Protocol):
    """What tests may use of `nats_server`: its URL, and kill/restart (embedded only)."""

    @property
    def url(self) -> str: ...

    def kill(self) -> None: ...

    def restart(self) -> None: ...


class PostgresServer(Protocol):
    """What tests may use of `postgres_server`: an admin URL, and kill/restart."""

    @property
    def url(self) -> str: ...

    def kill(self) -> None: ...

    def restart(self) -> None: ...


class _External:
    """A server we did not start: it can be used, not killed or restarted."""

    env_var = ""

    def __init__(self, url: str) -> None:
        self.url = url

    def _skip(self) -> NoReturn:
        pytest.skip(f"needs an embedded server, but {self.env_var} points at an external one")

    def kill(self) -> None:
        self._skip()

    def restart(self) -> None:
        self._skip()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


class ExternalNats(_External):
    env_var = "NATS_URL"


class ExternalPostgres(_External):
    env_var = "DATABASE_URL"


async def purge_jetstream(url: str) -> None:
    """Delete every stream (KV buckets and object stores included) on the server at `url`."""

    async def quiet(exc: Exception) -> None:
        pass

    servers = [part.strip() for part in url.split(",") if part.strip()]
    nc = await nats.connect(servers, connect_timeout=5, max_reconnect_attempts=5, error_cb=quiet)
    try:
        jsm = nc.jsm()
        while streams := await jsm.streams_info():
            for info in streams:
                if info.config.name:
                    await jsm.delete_stream(info.config.name)
    finally:
        await nc.close()


def unique_database_name(prefix: str = "test") -> str:
    clean = re.sub(r"[^a-z0-9_]", "_", prefix.lower())[:40]
    return f"{clean}_{uuid.uuid4().hex[:12]}"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def create_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url, timeout=30)
    try:
        await conn.execute(f"CREATE DATABASE {_quote(name)}")
    finally:
        await conn.close()


async def drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url, timeout=30)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)")
    finally:
        await conn.close()


@contextmanager
def scratch_dir(prefix: str = "tally-test-") -> Iterator[Path]:
    """A temporary directory outside pytest's basetemp, removed afterwards.

    As root, PostgreSQL runs as another user that must traverse its data dir's parents;
    a concurrent pytest session resets /tmp/pytest-of-root to mode 0700, which makes a
    running server PANIC, so PostgreSQL data must not live under `tmp_path`.
    """
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
