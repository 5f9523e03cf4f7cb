"""The payment gateways (simulator, HTTP client) and the guarded call: breaker + retries."""

import json
import random
from decimal import Decimal

import httpx
import pytest

from write_side.fulfilment.breaker import BreakerOpen, CircuitBreaker
from write_side.fulfilment.gateway import (
    Authorized,
    Declined,
    GatewayUnavailable,
    PaymentRequest,
)
from write_side.fulfilment.http_gateway import HttpPaymentGateway
from write_side.fulfilment.payments import GuardedGateway
from write_side.fulfilment.simulator import SimulatedGateway


def request(amount: str, order_id: str = "o1") -> PaymentRequest:
    return PaymentRequest(order_id, Decimal(amount), "EUR")


async def test_simulator_declines_above_the_limit_and_authorizes_at_it() -> None:
    gateway = SimulatedGateway(limit=Decimal(100))
    assert isinstance(await gateway.authorize(request("100.00")), Authorized)
    assert isinstance(await gateway.authorize(request("100.01")), Declined)
    first = await gateway.authorize(request("5", "o2"))
    assert first == await gateway.authorize(request("5", "o2"))  # same order, same answer


async def test_simulator_fails_for_the_configured_fraction_repeatably() -> None:
    async def failures(seed: int) -> int:
        gateway = SimulatedGateway(limit=Decimal(100), failure_rate=0.3, rng=random.Random(seed))
        failed = 0
        for _ in range(1000):
            try:
                await gateway.authorize(request("1"))
            except GatewayUnavailable:
                failed += 1
        return failed

    assert 250 < await failures(7) < 350
    assert await failures(7) == await failures(7)


def http_gateway(handler: httpx.MockTransport) -> HttpPaymentGateway:
    client = httpx.AsyncClient(transport=handler, base_url="http://gateway.test")
    return HttpPaymentGateway("http://gateway.test", client=client)


async def test_http_gateway_speaks_the_documented_contract() -> None:
    seen: list[httpx.Request] = []

    def answer(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        body = json.loads(req.content)
        if req.url.path == "/refunds":
            return httpx.Response(200, json={})
        if Decimal(body["amount"]) > 50:
            return httpx.Response(402, json={"reason": "insufficient funds"})
        return httpx.Response(201, json={"status": "authorized", "authorization_id": "a-1"})

    gateway = http_gateway(httpx.MockTransport(answer))
    assert await gateway.authorize(request("12.50")) == Authorized("a-1")
    assert await gateway.authorize(request("99")) == Declined("insufficient funds")
    await gateway.refund("o1", "a-1", Decimal("12.50"))
    await gateway.aclose()
    assert json.loads(seen[0].content) == {"order_id": "o1", "amount": "12.50", "currency": "EUR"}
    assert seen[0].headers["Idempotency-Key"] == "tally-authorize-o1"
    assert seen[2].headers["Idempotency-Key"] == "tally-refund-o1"


@pytest.mark.parametrize(
    "response",
    [httpx.Response(503), httpx.Response(429), httpx.Response(200, text="<html>")],
)
async def test_http_gateway_failures_are_unavailable(response: httpx.Response) -> None:
    gateway = http_gateway(httpx.MockTransport(lambda req: response))
    with pytest.raises(GatewayUnavailable):
        await gateway.authorize(request("1"))


async def test_http_gateway_connection_errors_are_unavailable() -> None:
    def refuse(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    with pytest.raises(GatewayUnavailable):
        await http_gateway(httpx.MockTransport(refuse)).authorize(request("1"))


async def test_guarded_calls_retry_then_open_the_breaker() -> None:
    gateway = SimulatedGateway(limit=Decimal(100), failure_rate=1.0)
    breaker = CircuitBreaker(failure_threshold=4, reset_timeout=60)
    guarded = GuardedGateway(gateway, breaker, max_attempts=3, backoff_base=0.001)
    with pytest.raises(GatewayUnavailable):
        await guarded.authorize(request("1"), budget=5)
    assert gateway.calls == 3
    with pytest.raises(BreakerOpen):  # the 4th failure opens it; no 5th call is made
        await guarded.authorize(request("1"), budget=5)
    assert gateway.calls == 4
    assert breaker.state == "open"


async def test_a_decline_is_an_answer_and_keeps_the_breaker_closed() -> None:
    gateway = SimulatedGateway(limit=Decimal(1))
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=60)
    guarded = GuardedGateway(gateway, breaker)
    assert isinstance(await guarded.authorize(request("5"), budget=1), Declined)
    assert breaker.state == "closed"
