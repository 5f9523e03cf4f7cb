"""Fixtures for the write side: a NATS connection with the streams, the event store."""

from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client as NATS

from support.defaults import COMMAND_MAX_ATTEMPTS, TEST_NATS_TIMEOUT
from write_side.command_service import CommandService
from write_side.event_store import JetStreamEventStore
from write_side.streams import StreamSettings, ensure_streams


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NATS]:
    async def quiet(error: Exception) -> None:
        pass

    connection = await nats.connect(
        nats_url, error_cb=quiet, reconnect_time_wait=0.2, max_reconnect_attempts=-1
    )
    await ensure_streams(connection.jetstream(), StreamSettings())
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
def store(nc: NATS) -> JetStreamEventStore:
    return JetStreamEventStore(nc, timeout=TEST_NATS_TIMEOUT)


@pytest.fixture
def service(store: JetStreamEventStore) -> CommandService:
    return CommandService(store, max_attempts=COMMAND_MAX_ATTEMPTS)
