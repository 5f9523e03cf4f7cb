"""/metrics parses as Prometheus text and counts requests by route template and commands by
outcome."""

import httpx
import pytest
from nats.aio.client import Client as NATS
from prometheus_client.parser import text_string_to_metric_families

from tally.bootstrap import bootstrap
from tally.http.app import create_api_app
from tally.metrics import Metrics
from tally.roles.migrate import migrate_streams
from tally.settings import Settings

pytestmark = pytest.mark.integration


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


async def test_metrics_count_requests_and_commands(nc: NATS) -> None:
    settings = Settings()
    await migrate_streams(nc, settings)
    metrics = Metrics()
    async with bootstrap(settings, name="test-api", nats=nc, metrics=metrics) as parts:
        routes = await parts.command_routes()
    app = create_api_app(routes=routes.routes(), checks={}, metrics=metrics)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://tally"
    ) as client:
        for sku in ("A", "B", "A"):
            assert (
                await client.post(f"/stock/{sku}/receive", json={"quantity": 1})
            ).status_code == 202
        assert (
            await client.post("/stock/C/adjust", json={"delta": 1, "reason": "r"})
        ).status_code == 404
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = samples(response.text)
    route = frozenset({("method", "POST"), ("route", "/stock/{sku}/receive"), ("status", "202")})
    assert found[("tally_http_requests_total", route)] == 3
    assert (
        found[
            (
                "tally_commands_total",
                frozenset({("command", "ReceiveStock"), ("outcome", "appended")}),
            )
        ]
        == 3
    )
    assert (
        found[
            (
                "tally_commands_total",
                frozenset({("command", "AdjustStock"), ("outcome", "not_found")}),
            )
        ]
        == 1
    )
    assert found[("tally_events_appended_total", frozenset({("stream", "STOCK")}))] == 3
