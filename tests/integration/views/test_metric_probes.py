"""The metric probes against real NATS and PostgreSQL: a view's lag, its stream's head and
its dead letters as /projections and `tally dlq` count them; each /ready check as a gauge
at every scrape of /metrics."""

from __future__ import annotations

import httpx
import pytest
from nats.aio.client import Client as NATS

from projections.dlq import dead_letter, ensure_dlq_stream
from projections.messages import StoredMessage
from projections.registry import get_projection
from support.read_side import order_history, projecting, publish, wait_position
from tally.http.app import create_api_app
from tally.http.ops import CheckResult
from tally.metric_probes import ProjectionProbe
from tally.metrics import Metrics

pytestmark = pytest.mark.integration


async def test_projection_probe_samples_lag_and_dead_letters(nc: NATS, db: str) -> None:
    js = nc.jetstream()
    await ensure_dlq_stream(js)
    await publish(nc, order_history(6))
    last = {s: (await js.stream_info(s)).state.last_seq for s in ("ORDERS", "STOCK")}
    metrics = Metrics()
    probe = ProjectionProbe(js, db, [get_projection("orders"), get_projection("stock")], metrics)
    metrics.add_probe(probe)
    sample = metrics.registry.get_sample_value
    try:
        await metrics.refresh()
        assert sample("tally_projection_lag", {"projection": "orders"}) == last["ORDERS"]
        assert sample("tally_dead_letters", {"projection": "orders"}) == 0

        async with projecting(nc, db, "orders"):
            await wait_position(db, "orders", last["ORDERS"])
        raw = await js.get_msg("ORDERS", 1)
        message = StoredMessage("ORDERS", 1, raw.subject or "", raw.data or b"", {})
        await dead_letter(js, "orders", message, "a bug", 5)
        await metrics.refresh()

        assert sample("tally_projection_lag", {"projection": "orders"}) == 0
        assert sample("tally_projection_lag", {"projection": "stock"}) == last["STOCK"]
        assert sample("tally_stream_last_sequence", {"stream": "STOCK"}) == last["STOCK"]
        assert sample("tally_dead_letters", {"projection": "orders"}) == 1
        assert sample("tally_dead_letters", {"projection": "stock"}) == 0
    finally:
        await probe.close()
    await metrics.refresh()  # closed: a no-op, the last values stay
    assert sample("tally_dead_letters", {"projection": "orders"}) == 1


async def test_each_ready_check_is_a_gauge_at_every_scrape() -> None:
    answers = {"nats": (True, "ok"), "postgres": (False, "refused")}

    async def nats_check() -> CheckResult:
        return answers["nats"]

    async def postgres_check() -> CheckResult:
        return answers["postgres"]

    async def hanging_check() -> CheckResult:
        raise TimeoutError

    metrics = Metrics()
    checks = {"nats": nats_check, "postgres": postgres_check, "projections": hanging_check}
    app = create_api_app(routes=[], checks=checks, metrics=metrics)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tally") as client:
        text = (await client.get("/metrics")).text
        assert 'tally_ready_check_up{check="nats"} 1.0' in text
        assert 'tally_ready_check_up{check="postgres"} 0.0' in text
        assert 'tally_ready_check_up{check="projections"} 0.0' in text
        answers["postgres"] = (True, "ok")
        text = (await client.get("/metrics")).text
        assert 'tally_ready_check_up{check="postgres"} 1.0' in text
