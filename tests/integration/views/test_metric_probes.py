"""The metric probes against real NATS and PostgreSQL: a view's (or partition's) lag and
audit, its stream's head and its dead letters as /projections and `tally dlq` count them;
each /ready check as a gauge at every scrape of /metrics."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from nats.aio.client import Client as NATS

from events.base import Event
from events.partitions import Layout, partition_of
from projections.dlq import dead_letter, ensure_dlq_stream
from projections.messages import StoredMessage
from projections.partitions import filter_subject, projectors_of
from projections.registry import get_projection
from support.read_side import order_history, projecting, publish, wait_position
from tally.http.app import create_api_app
from tally.http.ops import CheckResult
from tally.metric_probes import ProjectionProbe
from tally.metrics import Metrics
from write_side.streams import StreamSettings, ensure_streams

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
        assert sample("tally_projection_audit_ok", {"projection": "orders"}) == 1
        conn = await asyncpg.connect(db)
        try:  # an event the checkpoint says it applied, and did not: the audit fails
            await conn.execute(
                "UPDATE projection_checkpoints SET applied = applied - 1 WHERE name = 'orders'"
            )
        finally:
            await conn.close()
        await metrics.refresh()
        assert sample("tally_projection_audit_ok", {"projection": "orders"}) == 0
    finally:
        await probe.close()
    await metrics.refresh()  # closed: a no-op, the last values stay
    assert sample("tally_dead_letters", {"projection": "orders"}) == 1


async def test_a_partition_lags_behind_its_own_last_event(nc: NATS, db: str) -> None:
    """Each partition's lag is its own last event minus its checkpoint (not the stream's
    last sequence), and the view's dead letters are counted once, under the view."""
    js = nc.jetstream()
    await ensure_streams(js, StreamSettings(partitions=3))
    await ensure_dlq_stream(js)
    orders: list[tuple[str, Event]] = []
    while len({partition_of(subject.split(".")[1], 3) for subject, _ in orders}) < 3:
        orders = [item for item in order_history(9) if item[0].startswith("orders.")]
    await publish(nc, orders)  # every partition holds some
    rows = projectors_of(get_projection("orders"), Layout({"ORDERS": 3}))
    lasts = {}
    for row in rows:
        subject = filter_subject(row)
        assert subject is not None
        lasts[row.name] = int((await js.get_last_msg("ORDERS", subject)).seq or 0)
    assert min(lasts.values()) < (await js.stream_info("ORDERS")).state.last_seq
    raw = await js.get_msg("ORDERS", 1)
    message = StoredMessage("ORDERS", 1, raw.subject or "", raw.data or b"", {})
    await dead_letter(js, "orders", message, "a bug", 5)
    metrics = Metrics()
    probe = ProjectionProbe(js, db, rows, metrics)
    sample = metrics.registry.get_sample_value
    try:
        await probe()
    finally:
        await probe.close()
    for name, last in lasts.items():
        assert sample("tally_projection_lag", {"projection": name}) == last
        assert sample("tally_projection_audit_ok", {"projection": name}) == 1  # not run yet
        assert sample("tally_dead_letters", {"projection": name}) is None
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
