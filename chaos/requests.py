"""The random requests of the workload, each drawn from a seeded RNG and what the
clients know so far (orders they placed, SKUs they stocked, the last positions they
were told). Pure: no I/O; `Knowledge` is updated from the answers by the workload."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

HOT_SKUS = [f"HOT-{i}" for i in range(3)]
SKUS = [f"SKU-{i}" for i in range(9)]
GHOST = "GHOST"  # never received: orders naming it are rejected out_of_stock


@dataclass(frozen=True)
class Request:
    op: str
    method: str
    path: str
    body: dict[str, Any] | None = None


@dataclass
class Knowledge:
    orders: list[str] = field(default_factory=list)  # order ids answered 202, in order
    positions: dict[str, str] = field(default_factory=dict)  # order id / sku -> position

    def learn(self, request: Request, status: int, answer: dict[str, Any] | None) -> None:
        if status != 202 or not answer or "position" not in answer:
            return
        entity = str(answer.get("order_id") or answer.get("sku"))
        if request.op == "place" and entity not in self.positions:
            self.orders.append(entity)
        self.positions[entity] = str(answer["position"])


def sku(rng: random.Random, ghosts: float = 0.0) -> str:
    roll = rng.random()
    if roll < ghosts:
        return f"{GHOST}-{rng.randrange(5)}"
    return rng.choice(HOT_SKUS) if roll < 0.5 + ghosts else rng.choice(SKUS)


def _price(rng: random.Random, big: bool) -> str:
    units = rng.randint(150, 300) if big else rng.randint(0, 40)
    return f"{units}.{rng.randrange(100):02d}"


def place(rng: random.Random) -> Request:
    big = rng.random() < 0.07  # over the gateway's limit: declined
    lines = [
        {
            "sku": sku(rng, ghosts=0.04),
            "quantity": rng.randint(1, 3),
            "unit_price": _price(rng, big),
        }
        for _ in range(rng.choice((1, 1, 2, 3)))
    ]
    body = {"customer_id": f"cust-{rng.randrange(20)}", "lines": lines}
    return Request("place", "POST", "/orders", body)


def receive(rng: random.Random) -> Request:
    target = sku(rng)
    return Request("receive", "POST", f"/stock/{target}/receive", {"quantity": rng.randint(1, 6)})


def adjust(rng: random.Random) -> Request:
    delta = rng.choice((-3, -2, -1, -1, 1, 2))
    body = {"delta": delta, "reason": "count" if delta > 0 else "damaged"}
    return Request("adjust", "POST", f"/stock/{sku(rng)}/adjust", body)


def _recent_order(rng: random.Random, known: Knowledge) -> str | None:
    return rng.choice(known.orders[-60:]) if known.orders else None


def cancel(rng: random.Random, known: Knowledge) -> Request | None:
    order = _recent_order(rng, known)
    if order is None:
        return None
    body = {"reason": rng.choice(("changed my mind", "too slow", "found it cheaper"))}
    return Request("cancel", "POST", f"/orders/{order}/cancel", body)


def ship(rng: random.Random, known: Knowledge) -> Request | None:
    order = _recent_order(rng, known)
    return None if order is None else Request("ship", "POST", f"/orders/{order}/ship", {})


def read_own_write(rng: random.Random, known: Knowledge) -> Request | None:
    """A GET with `after=` the last position the clients were told for an order or SKU
    (orders and SKUs equally often)."""
    kind = rng.choice(("ORDERS", "STOCK"))
    entities = [e for e, position in known.positions.items() if position.startswith(kind)]
    if not entities:
        return None
    entity = rng.choice(entities[-80:])
    path = f"/orders/{entity}" if kind == "ORDERS" else f"/stock/{entity}"
    op = "get_order" if kind == "ORDERS" else "get_stock"
    return Request(op, "GET", f"{path}?after={known.positions[entity]}&wait=10")


def hot_burst(rng: random.Random) -> list[Request]:
    """Concurrent commands on one hot SKU: orders, receipts and adjustments racing."""
    target = rng.choice(HOT_SKUS)
    burst = []
    for _ in range(rng.randint(4, 8)):
        roll = rng.random()
        if roll < 0.5:
            line = {"sku": target, "quantity": rng.randint(1, 2), "unit_price": "5.00"}
            burst.append(
                Request("place", "POST", "/orders", {"customer_id": "hot", "lines": [line]})
            )
        elif roll < 0.8:
            burst.append(Request("receive", "POST", f"/stock/{target}/receive", {"quantity": 2}))
        else:
            burst.append(
                Request("adjust", "POST", f"/stock/{target}/adjust", {"delta": -1, "reason": "hot"})
            )
    return burst


def misused(request: Request) -> Request | None:
    """The same path with another body: reusing its key must be refused (422). None for
    a command whose body has nothing to change (ship)."""
    body = dict(request.body or {})
    if "lines" in body:
        body["customer_id"] = f"{body['customer_id']}-other"
    elif "quantity" in body:
        body["quantity"] = int(body["quantity"]) + 1
    elif "delta" in body:
        body["delta"] = int(body["delta"]) + 10
    elif request.op == "cancel":
        body["reason"] = f"{body.get('reason', '')} (other)"
    else:
        return None
    return Request(request.op, request.method, request.path, body)
