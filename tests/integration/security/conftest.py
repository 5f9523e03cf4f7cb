"""Fixtures for the security tests: a plain NATS connection to the test server."""

from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client as NATS


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NATS]:
    async def quiet(error: Exception) -> None:
        pass

    connection = await nats.connect(nats_url, error_cb=quiet, max_reconnect_attempts=5)
    try:
        yield connection
    finally:
        await connection.close()
