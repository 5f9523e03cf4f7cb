"""A payment gateway for the fault suite, served over real HTTP (`TALLY_PAYMENT_URL`), that
keeps the books: what each order was charged and refunded, once per idempotency key as a
real gateway would, and how many calls it took. A process killed between charging and
recording the charge must neither charge twice nor lose track of the money."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tally.embedded.ports import free_port


@dataclass
class Ledger:
    limit: Decimal
    charged: dict[str, Decimal] = field(default_factory=dict)  # order id -> amount
    refunded: dict[str, Decimal] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)  # authorization key -> order id
    refund_keys: set[str] = field(default_factory=set)
    calls: Counter[str] = field(default_factory=Counter)
    doubled: list[str] = field(default_factory=list)  # orders charged under two keys

    async def authorize(self, request: Request) -> JSONResponse:
        try:
            body, key = await request.json(), request.headers["Idempotency-Key"]
        except ClientDisconnect:  # the process died while calling: nothing was charged
            return JSONResponse({}, status_code=499)
        order, amount = body["order_id"], Decimal(body["amount"])
        self.calls["authorize"] += 1
        if amount > self.limit:
            return JSONResponse({"status": "declined", "reason": f"over {self.limit}"})
        if key not in self.keys:
            if order in self.charged:
                self.doubled.append(order)
            self.keys[key] = order
            self.charged[order] = self.charged.get(order, Decimal(0)) + amount
        return JSONResponse({"status": "authorized", "authorization_id": f"auth-{key}"})

    async def refund(self, request: Request) -> JSONResponse:
        try:
            body, key = await request.json(), request.headers["Idempotency-Key"]
        except ClientDisconnect:
            return JSONResponse({}, status_code=499)
        self.calls["refund"] += 1
        if key not in self.refund_keys:
            self.refund_keys.add(key)
            order = body["order_id"]
            self.refunded[order] = self.refunded.get(order, Decimal(0)) + Decimal(body["amount"])
        return JSONResponse({"status": "refunded"})

    def kept(self, order_id: str) -> Decimal:
        return self.charged.get(order_id, Decimal(0)) - self.refunded.get(order_id, Decimal(0))


@contextlib.asynccontextmanager
async def ledger_gateway(limit: Decimal) -> AsyncIterator[tuple[Ledger, str]]:
    """The gateway on a loopback port, served by this event loop; yields it and its URL."""
    ledger = Ledger(limit)
    app = Starlette(
        routes=[
            Route("/authorizations", ledger.authorize, methods=["POST"]),
            Route("/refunds", ledger.refund, methods=["POST"]),
        ]
    )
    port = free_port("127.0.0.1")
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:  # noqa: ASYNC110 (uvicorn offers no event)
                await asyncio.sleep(0.02)
        yield ledger, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
