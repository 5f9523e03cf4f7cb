"""The chaos run's payment gateway, over real HTTP (`TALLY_PAYMENT_URL`), that fails,
times out and slows down at random, and keeps the books to be checked at the end.

It follows the README's payment contract: one authorization per `Idempotency-Key` (a
repeat answers the first result), one refund per key. A charge is booked before the
answer is delayed, as at a real gateway whose answer is lost. Run as its own process:
`python -m chaos.gateway PORT SEED LIMIT [calm]` (calm: no failures, no late answers);
stdin takes `slow SECONDS` (every answer that
late; 0 for normal); `GET /ledger` returns the books.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
from decimal import Decimal
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

FAIL_RATE = 0.08  # answered 503
TIMEOUT_RATE = 0.04  # booked, then answered after the client's 2 s timeout
LATE = 3.0


class ChaosGateway:
    def __init__(self, seed: int, limit: Decimal, *, calm: bool = False) -> None:
        self.rng = random.Random(seed)
        self.calm = calm
        self.limit = limit
        self.slow = 0.0
        self.authorizations: dict[str, dict[str, Any]] = {}  # key -> answer, order, amount
        self.refunds: dict[str, dict[str, str]] = {}  # key -> order, amount
        self.calls: dict[str, int] = {"authorize": 0, "refund": 0, "failed": 0, "late": 0}

    def _misbehave(self) -> float:
        """Raises nothing; returns how long to hold the answer (or -1: fail it now)."""
        roll = 1.0 if self.calm else self.rng.random()
        if roll < FAIL_RATE:
            self.calls["failed"] += 1
            return -1.0
        if roll < FAIL_RATE + TIMEOUT_RATE:
            self.calls["late"] += 1
            return LATE
        return self.slow

    async def authorize(self, request: Request) -> JSONResponse:
        body, key = await request.json(), request.headers.get("Idempotency-Key", "")
        self.calls["authorize"] += 1
        hold = self._misbehave()
        if hold < 0:
            return JSONResponse({"error": "try later"}, status_code=503)
        if key not in self.authorizations:
            amount = Decimal(body["amount"])
            answer = (
                {"status": "declined", "reason": f"over the limit of {self.limit}"}
                if amount > self.limit
                else {
                    "status": "authorized",
                    "authorization_id": f"auth-{len(self.authorizations)}",
                }
            )
            self.authorizations[key] = {
                "order_id": body["order_id"],
                "amount": str(amount),
                "answer": answer,
            }
        await asyncio.sleep(hold)
        return JSONResponse(self.authorizations[key]["answer"])

    async def refund(self, request: Request) -> JSONResponse:
        body, key = await request.json(), request.headers.get("Idempotency-Key", "")
        self.calls["refund"] += 1
        hold = self._misbehave()
        if hold < 0:
            return JSONResponse({"error": "try later"}, status_code=503)
        self.refunds.setdefault(key, {"order_id": body["order_id"], "amount": body["amount"]})
        await asyncio.sleep(hold)
        return JSONResponse({"status": "refunded"})

    async def ledger(self, request: Request) -> JSONResponse:
        return JSONResponse(
            {"authorizations": self.authorizations, "refunds": self.refunds, "calls": self.calls}
        )


async def serve(port: int, seed: int, limit: Decimal, calm: bool) -> None:
    gateway = ChaosGateway(seed, limit, calm=calm)
    app = Starlette(
        routes=[
            Route("/authorizations", gateway.authorize, methods=["POST"]),
            Route("/refunds", gateway.refund, methods=["POST"]),
            Route("/ledger", gateway.ledger, methods=["GET"]),
        ]
    )
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", access_log=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        words = line.decode().split()
        if len(words) == 2 and words[0] == "slow":
            gateway.slow = float(words[1])
    server.should_exit = True  # stdin closed: the harness is gone
    await task


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):  # SIGINT: the harness stops us
        calm = sys.argv[4:] == ["calm"]
        asyncio.run(serve(int(sys.argv[1]), int(sys.argv[2]), Decimal(sys.argv[3]), calm))
