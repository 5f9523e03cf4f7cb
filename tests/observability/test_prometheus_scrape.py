"""A real Prometheus scrapes a running `tally up` and the metrics ports of a projector and a
fulfilment worker beside it, and evaluates docker/observability/'s alert rules; orders go
through every fulfilment path. Then every expression of every dashboard panel and every
alert returns a series (no panel or alert names a metric, or a label value, that Tally does
not export), no alert fires on the healthy system, and the dead-letters alert fires, once,
when a poison event has been dead-lettered."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from uuid import uuid4

import httpx
import nats
import pytest

from events.codec import encode
from events.envelope import Envelope
from support.prometheus import MISSING, PROMETHEUS, Prometheus, ScrapeTarget, running_prometheus
from support.promql import (
    ALERTS,
    Expression,
    alert_expressions,
    dashboard_expressions,
    metric_names,
)
from support.read_side import placed
from support.roles import Role, role_env
from support.tally_process import RunningTally, running_tally
from tally.embedded.ports import free_port

pytestmark = [
    pytest.mark.observability,
    pytest.mark.skipif(PROMETHEUS is None, reason=MISSING),
]
RATE_INTERVAL = "20s"  # Grafana's $__rate_interval: ten scrapes here
PAYMENT_LIMIT = 100
T = TypeVar("T")


@contextlib.contextmanager
def scrape_targets(tally: RunningTally, home: Path) -> Iterator[list[ScrapeTarget]]:
    """`tally up` runs every role in one process, all on the API's /metrics. Beside it run
    a standby `tally project` and a second `tally fulfil`, each serving TALLY_METRICS_PORT
    as in docker/compose.yml (once `tally up` runs its roles as processes of their own,
    their ports join this list instead)."""
    ports = {"project": free_port(), "fulfil": free_port()}
    env = role_env(tally.nats_url(), tally.database_url(), TALLY_HOST="127.0.0.1")
    env["TALLY_PAYMENT_LIMIT"] = str(PAYMENT_LIMIT)
    workers = [
        Role([role], env | {"TALLY_METRICS_PORT": str(port)}, home / f"{role}.log")
        for role, port in ports.items()
    ]
    try:
        for worker, port in zip(workers, ports.values(), strict=True):
            worker.start().wait_http(f"http://127.0.0.1:{port}", "/metrics")
        yield [
            ScrapeTarget(f"127.0.0.1:{tally.port}"),
            ScrapeTarget(f"127.0.0.1:{ports['project']}", job="tally-projector"),
            ScrapeTarget(f"127.0.0.1:{ports['fulfil']}", job="tally-fulfilment"),
        ]
    finally:
        for worker in workers:
            worker.stop()


async def eventually(
    check: Callable[[], Awaitable[T]],
    what: str,
    ok: Callable[[T], bool] = bool,
    timeout: float = 60,
) -> T:
    """`check()` until `ok` holds for its answer; the last answer is in the failure."""
    deadline = time.monotonic() + timeout
    while True:
        answer = await check()
        if ok(answer):
            return answer
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s: {answer!r}"
        await asyncio.sleep(0.5)


async def place(http: httpx.AsyncClient, quantity: int, price: str) -> str:
    line = {"sku": "S1", "quantity": quantity, "unit_price": price}
    answer = await http.post("/orders", json={"customer_id": "c", "lines": [line]})
    assert answer.status_code == 202, answer.text
    order_id: str = answer.json()["order_id"]
    return order_id


async def settled(http: httpx.AsyncClient, order_id: str, status: str) -> None:
    async def check() -> bool:
        answer = await http.get(f"/orders/{order_id}")
        return answer.status_code == 200 and answer.json()["status"] == status

    await eventually(check, f"order {order_id} {status}")


async def exercise(http: httpx.AsyncClient) -> None:
    """Orders down every fulfilment path (confirmed and shipped, confirmed and cancelled
    with a refund, out of stock, declined), and 4xx and 5xx answers."""
    assert (await http.post("/stock/S1/receive", json={"quantity": 3})).status_code == 202
    shipped, refunded = await place(http, 1, "10.00"), await place(http, 1, "20.00")
    short, dear = await place(http, 5, "1.00"), await place(http, 1, f"{PAYMENT_LIMIT}.01")
    for order_id in (shipped, refunded):
        await settled(http, order_id, "confirmed")
    assert (await http.post(f"/orders/{shipped}/ship", json={})).status_code == 202
    assert (await http.post(f"/orders/{refunded}/cancel", json={})).status_code == 202
    for order_id, status in [(shipped, "shipped"), (refunded, "cancelled")]:
        await settled(http, order_id, status)
    for order_id in (short, dear):
        await settled(http, order_id, "rejected")
    assert (await http.post(f"/orders/{refunded}/ship", json={})).status_code == 409
    assert (await http.post("/orders", json={"lines": []})).status_code == 422
    lagging = await http.get(f"/orders/{shipped}", params={"after": "ORDERS:999999", "wait": 0})
    assert lagging.status_code == 503, lagging.text


async def without_series(prometheus: Prometheus, expressions: list[Expression]) -> list[str]:
    return [
        f"{expression.where}: {expression.promql}"
        for expression in expressions
        if not prometheus.query(expression.promql)
    ]


async def publish_poison(nats_url: str) -> None:
    """An OrderPlaced whose body is cut short: the orders projection dead-letters it."""
    _, headers = encode(placed("poisoner"), Envelope())
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().publish(f"orders.{uuid4()}", b'{"customer_id": "cut', headers=headers)
    finally:
        await nc.close()


async def test_every_panel_and_alert_has_data_and_dead_letters_fire(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TALLY_PAYMENT_LIMIT", str(PAYMENT_LIMIT))
    with (
        running_tally(free_port()) as tally,
        scrape_targets(tally, tmp_path) as targets,
        running_prometheus(tmp_path / "prometheus", targets, [ALERTS]) as prom,
    ):
        async with httpx.AsyncClient(base_url=tally.base, timeout=10) as http:
            await exercise(http)
        expressions = dashboard_expressions(RATE_INTERVAL)
        expressions += alert_expressions(prom.api("rules")["groups"])
        assert len(expressions) > 30

        missing = await eventually(
            lambda: without_series(prom, expressions),
            "every dashboard and alert expression returns a series",
            ok=lambda missing: not missing,
            timeout=45,
        )
        assert missing == []
        named = set().union(*(metric_names(expression.promql) for expression in expressions))
        assert not named - prom.metric_names(), "named but not exported"
        assert prom.firing() == [], "an alert fires on a healthy system"
        up = {sample["metric"]["job"]: sample["value"][1] for sample in prom.query("up")}
        assert up == {"tally": "1", "tally-projector": "1", "tally-fulfilment": "1"}

        await publish_poison(tally.nats_url())

        async def dead_letters_firing() -> list[dict[str, Any]]:
            return [a for a in prom.firing() if a["labels"]["alertname"] == "TallyDeadLetters"]

        firing = await eventually(dead_letters_firing, "TallyDeadLetters firing")
        assert [alert["labels"]["projection"] for alert in firing] == ["orders"]
        assert firing[0]["annotations"]["summary"] == "Projection orders has dead letters"

        async def dead_letters_by_job() -> dict[str, str]:
            samples = prom.query('tally_dead_letters{projection="orders"}')
            return {sample["metric"]["job"]: sample["value"][1] for sample in samples}

        everywhere = {"tally": "1", "tally-projector": "1"}  # the worker on its 5 s timer
        await eventually(dead_letters_by_job, "the dead letter counted", everywhere.__eq__, 20)
