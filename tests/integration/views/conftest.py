"""Fixtures of the read-side tests: NATS with the streams, a migrated database."""

from collections.abc import AsyncIterator

import pytest
from nats.aio.client import Client as NATS

from support.read_side import connect, ready_streams
from tally.roles.database import run_alembic


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NATS]:
    client = await connect(nats_url)
    await ready_streams(client)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def db(database_url: str) -> str:
    await run_alembic(database_url)
    return database_url
