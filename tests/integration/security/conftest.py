"""Fixtures for the security tests: a plain NATS connection to the test server, and a
server running the generated per-role users."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NATS

from support.secured_nats import secured_server
from tally.embedded.nats_server import EmbeddedNats


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NATS]:
    async def quiet(error: Exception) -> None:
        pass

    connection = await nats.connect(nats_url, error_cb=quiet, max_reconnect_attempts=5)
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture(params=["authorization", "docker-accounts"])
async def secured_nats(
    tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[EmbeddedNats]:
    """The per-role users in a plain `authorization` block, or docker/nats/nats.conf's
    accounts (passwords from the server's environment, as in compose)."""
    env: dict[str, str] = {}
    server = secured_server(tmp_path / "nats", request.param, env)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)
