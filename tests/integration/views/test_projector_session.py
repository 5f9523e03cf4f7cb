"""The projector's PostgreSQL session as the settings make it: TALLY_PROJECTION_SYNCHRONOUS_COMMIT
(default off) reaches the connection the projector commits its batches on."""

from __future__ import annotations

import pytest
from nats.aio.client import Client as NATS

from projections.registry import get_projection
from projections.runner import Projector
from tally.roles.project import projector_settings
from tally.settings import load_settings

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("environment", "expected"), [(None, "off"), ("on", "on"), ("off", "off")])
async def test_the_setting_reaches_the_projectors_session(
    nc: NATS, db: str, monkeypatch: pytest.MonkeyPatch, environment: str | None, expected: str
) -> None:
    if environment is None:
        monkeypatch.delenv("TALLY_PROJECTION_SYNCHRONOUS_COMMIT", raising=False)
    else:
        monkeypatch.setenv("TALLY_PROJECTION_SYNCHRONOUS_COMMIT", environment)
    settings = projector_settings(load_settings())
    conn = await Projector(get_projection("orders"), nc, db, settings).connect()
    try:
        assert await conn.fetchval("SHOW synchronous_commit") == expected
        # and it is the session's, not a transaction's
        async with conn.transaction():
            assert await conn.fetchval("SHOW synchronous_commit") == expected
    finally:
        await conn.close()
