"""Shared fixtures: NATS and PostgreSQL servers, embedded unless NATS_URL / DATABASE_URL."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from support.servers import (
    ExternalNats,
    ExternalPostgres,
    NatsServer,
    PostgresServer,
    create_database,
    drop_database,
    purge_jetstream,
    scratch_dir,
    unique_database_name,
)
from tally.embedded import EmbeddedNats, EmbeddedPostgres, with_database

# The shared test server survives process kills without loss (synchronous_commit stays on)
# but not an OS crash; that buys fast CREATE DATABASE per test.
TEST_POSTGRES_SETTINGS = {"fsync": "off", "full_page_writes": "off"}


@pytest.fixture
async def nats_server(tmp_path: Path) -> AsyncIterator[NatsServer]:
    """A fresh NATS server with JetStream; with NATS_URL set, that server emptied."""
    external = os.environ.get("NATS_URL")
    if external:
        await purge_jetstream(external)
        yield ExternalNats(external)
        return
    server = EmbeddedNats(tmp_path / "nats")
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


@pytest.fixture
def nats_url(nats_server: NatsServer) -> str:
    return nats_server.url


@pytest.fixture
def postgres_tmp_path() -> Iterator[Path]:
    """A temp dir for a test's own EmbeddedPostgres (not under `tmp_path`: see scratch_dir)."""
    with scratch_dir("tally-pg-test-") as path:
        yield path


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session; with DATABASE_URL set, that server."""
    external = os.environ.get("DATABASE_URL")
    if external:
        yield ExternalPostgres(external)
        return
    with scratch_dir("tally-pg-session-") as path:
        server = EmbeddedPostgres(path / "data", settings=TEST_POSTGRES_SETTINGS)
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
async def database_url(
    postgres_server: PostgresServer, request: pytest.FixtureRequest
) -> AsyncIterator[str]:
    """A new, empty database for this test (dropped afterwards), as a libpq URI."""
    name = unique_database_name(f"t_{request.node.name}"[:30])
    await create_database(postgres_server.url, name)
    try:
        yield with_database(postgres_server.url, name)
    finally:
        await drop_database(postgres_server.url, name)
