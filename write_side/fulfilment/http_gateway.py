"""A payment gateway over HTTP (`TALLY_PAYMENT_URL`).

The wire contract Tally expects of an external gateway:
- `POST {url}/authorizations` with `{"order_id", "amount": "12.50", "currency"}` and an
  `Idempotency-Key` header (the same for every attempt on one order). 2xx answers
  `{"status": "authorized", "authorization_id": "..."}` or `{"status": "declined",
  "reason": "..."}`; 402 is a decline too.
- `POST {url}/refunds` with `{"order_id", "authorization_id", "amount"}` and an
  `Idempotency-Key`; any 2xx is done.
Timeouts, connection errors, 429, 5xx, other 4xx and unreadable answers are
"unavailable": the caller retries behind its circuit breaker.
"""

from decimal import Decimal
from typing import Any

import httpx

from write_side.fulfilment.gateway import (
    Authorized,
    Declined,
    GatewayUnavailable,
    PaymentRequest,
    PaymentResult,
)


class HttpPaymentGateway:
    def __init__(
        self, base_url: str, *, timeout: float = 2.0, client: httpx.AsyncClient | None = None
    ) -> None:
        self._client = client or httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 1.0)),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )

    async def _post(self, path: str, body: dict[str, Any], key: str) -> httpx.Response:
        try:
            response = await self._client.post(path, json=body, headers={"Idempotency-Key": key})
        except httpx.HTTPError as error:
            raise GatewayUnavailable(f"{path}: {type(error).__name__}: {error}") from error
        if response.status_code == 402 or response.is_success:
            return response
        raise GatewayUnavailable(f"{path}: HTTP {response.status_code}")

    async def authorize(self, request: PaymentRequest) -> PaymentResult:
        body = {
            "order_id": request.order_id,
            "amount": str(request.amount),
            "currency": request.currency,
        }
        response = await self._post("/authorizations", body, request.idempotency_key)
        answer = _json(response)
        status = answer.get("status")
        if response.status_code == 402 or status == "declined":
            return Declined(str(answer.get("reason") or "declined by the gateway"))
        authorization_id = answer.get("authorization_id")
        if status != "authorized" or not isinstance(authorization_id, str) or not authorization_id:
            raise GatewayUnavailable(f"/authorizations: unexpected answer {answer!r:.200}")
        return Authorized(authorization_id)

    async def refund(self, order_id: str, authorization_id: str, amount: Decimal) -> None:
        body = {"order_id": order_id, "authorization_id": authorization_id, "amount": str(amount)}
        response = await self._post("/refunds", body, f"tally-refund-{order_id}")
        if response.status_code == 402:
            raise GatewayUnavailable("/refunds: HTTP 402")

    async def aclose(self) -> None:
        await self._client.aclose()


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        if response.status_code == 402:
            return {}
        raise GatewayUnavailable(f"{response.request.url.path}: the answer is not a JSON object")
    return answer
