"""The composition root of an operator's command: it gives up on NATS and PostgreSQL
after `timeout` seconds with one error (NatsUnavailable, DatabaseUnavailable) that names
the URL, its password masked, and the cause."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tally.bootstrap import Parts, bootstrap
from tally.settings import Settings


@asynccontextmanager
async def operator_session(
    settings: Settings, timeout: float, *, database: bool = False
) -> AsyncIterator[Parts]:
    """The parts, with NATS connected and (`database`) the owner's database connection
    made before anything else runs."""
    async with bootstrap(settings, name="tally-cli", connect_timeout=timeout) as parts:
        await parts.nats()
        if database:
            await parts.database()
        yield parts
