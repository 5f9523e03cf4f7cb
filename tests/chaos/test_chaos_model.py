"""The chaos run's model catches what it promises to catch: each check, fed a small
history with one broken promise, names it (and stays quiet on the healthy version)."""

from __future__ import annotations

from typing import Any

from chaos.check_commands import check_commands
from chaos.check_fulfilment import check_ledger, check_outcomes, check_steps_once, check_traced
from chaos.check_views import check_invariant, check_reads, check_view_rows
from chaos.explain import explain
from chaos.fold import fold
from chaos.history import Call, History
from chaos.streams import Stored, Streams

ORDER = "00000000-0000-4000-8000-000000000001"


def event(
    stream: str,
    seq: int,
    entity: str,
    kind: str,
    corr: str,
    cause: str | None = None,
    **data: Any,
) -> Stored:
    prefix = {"ORDERS": "orders", "STOCK": "stock", "PAYMENTS": "payments"}[stream]
    return Stored(stream, seq, f"{prefix}.{entity}", kind, data, f"id-{stream}-{seq}", corr, cause)


def call(
    n: int,
    op: str,
    path: str,
    status: int,
    answer: dict[str, Any] | None = None,
    *,
    command: int | None = None,
    key: str | None = None,
    body: dict[str, Any] | None = None,
    method: str = "POST",
) -> Call:
    corr = f"c{command or n}"
    return Call(
        n, command or n, 0, op, method, path, body, 0, corr, key, float(n), 0.1, status, answer
    )


def placed(seq: int = 1, corr: str = "c1") -> Stored:
    lines = [{"sku": "A", "quantity": 2, "unit_price": "1.00"}]
    return event(
        "ORDERS",
        seq,
        ORDER,
        "OrderPlaced",
        corr,
        customer_id="x",
        lines=lines,
        total="2.00",
        currency="EUR",
    )


def place_call(status: int = 202, position: str | None = "ORDERS:1", **kw: Any) -> Call:
    return call(1, "place", "/orders", status, {"order_id": ORDER, "position": position}, **kw)


def received(seq: int, quantity: int, corr: str) -> Stored:
    return event("STOCK", seq, "A", "StockReceived", corr, quantity=quantity)


def test_a_command_answered_202_and_stored_once_is_fine() -> None:
    assert check_commands([place_call()], [placed()]) == []


def test_a_202_never_stored_is_lost_and_one_stored_twice_doubled() -> None:
    assert [v.check for v in check_commands([place_call()], [])] == ["lost"]
    twice = [placed(1), placed(2)]
    assert [v.check for v in check_commands([place_call()], twice)] == ["doubled"]


def test_a_503_may_or_may_not_be_stored_but_never_twice() -> None:
    assert check_commands([place_call(503, None)], []) == []
    assert check_commands([place_call(503, None)], [placed()]) == []
    assert check_commands([call(1, "place", "/orders", 0)], [placed()]) == []
    twice = [placed(1), placed(2)]
    assert [v.check for v in check_commands([place_call(503, None)], twice)] == ["doubled"]


def test_a_refused_command_that_was_stored_is_named() -> None:
    refused = call(1, "receive", "/stock/A/receive", 409, body={"quantity": 2})
    found = check_commands([refused], [received(1, 2, "c1")])
    assert [v.check for v in found] == ["refused-stored"]


def test_events_no_client_asked_for_are_named() -> None:
    found = check_commands([], [received(1, 2, "nobody")])
    assert [v.check for v in found] == ["uncaused"]
    assert "nobody" in found[0].focus


def test_the_stored_event_must_be_what_was_asked_at_the_answered_position() -> None:
    asked = call(
        1,
        "receive",
        "/stock/A/receive",
        202,
        {"sku": "A", "position": "STOCK:7"},
        body={"quantity": 3},
    )
    found = check_commands([asked], [received(1, 2, "c1")])
    assert {v.check for v in found} == {"as-asked", "answer"}


def test_a_keyed_repeat_refused_for_its_own_first_effect_is_named() -> None:
    first = place_call(503, None, key="k")
    again = call(
        2,
        "place",
        "/orders",
        409,
        {"type": "https://tally.dev/problems/order-exists"},
        command=1,
        key="k",
    )
    found = check_commands([first, again], [placed()])
    assert [v.check for v in found] == ["idempotent-refused"]
    twin = call(
        2,
        "place",
        "/orders",
        409,
        {"type": "https://tally.dev/problems/request-in-progress"},
        command=1,
        key="k",
    )
    assert check_commands([place_call(key="k"), twin], [placed()]) == []


def test_no_http_500() -> None:
    found = check_commands([call(1, "get_order", "/orders/x", 500, method="GET")], [])
    assert [v.check for v in found] == ["http-5xx"]


def _fulfilled(*extra: Stored) -> Streams:
    order = placed()
    reserved = event(
        "STOCK", 2, "A", "StockReserved", "c1", order.event_id, order_id=ORDER, quantity=2
    )
    paid = event(
        "PAYMENTS",
        1,
        ORDER,
        "PaymentAuthorized",
        "c1",
        order.event_id,
        amount="2.00",
        currency="EUR",
        authorization_id="auth-0",
    )
    confirmed = event(
        "ORDERS", 2, ORDER, "OrderConfirmed", "c1", order.event_id, authorization_id="auth-0"
    )
    streams = Streams()
    streams.events = {
        "ORDERS": [order, confirmed],
        "STOCK": [received(1, 5, "c9"), reserved],
        "PAYMENTS": [paid],
    }
    for stored in extra:
        streams.events[stored.stream].append(stored)
    return streams


def test_fulfilment_steps_are_traced_to_their_order_event_and_stored_once() -> None:
    streams = _fulfilled()
    assert check_traced(streams) == [] and check_steps_once(streams) == []
    stray = event(
        "STOCK", 3, "A", "StockReserved", "c1", "id-of-nothing", order_id=ORDER, quantity=2
    )
    assert [v.check for v in check_traced(_fulfilled(stray))] == ["untraced"]
    again = event("STOCK", 3, "A", "StockReserved", "c1", "id-ORDERS-1", order_id=ORDER, quantity=2)
    assert [v.check for v in check_steps_once(_fulfilled(again))] == ["step-twice"]


def test_every_order_ends_final_or_confirmed_with_what_its_state_implies() -> None:
    streams = _fulfilled()
    assert check_outcomes(streams, fold(streams.events["ORDERS"], streams.events["STOCK"])) == []
    cancelled = event("ORDERS", 3, ORDER, "OrderCancelled", "c5", reason="no")
    streams = _fulfilled(cancelled)  # still holds its stock, never refunded
    found = check_outcomes(streams, fold(streams.events["ORDERS"], streams.events["STOCK"]))
    assert [v.check for v in found] == ["outcome"]
    pending = Streams(events={"ORDERS": [placed()], "STOCK": [], "PAYMENTS": []})
    found = check_outcomes(pending, fold(pending.events["ORDERS"], []))
    assert "pending" in found[0].what


def test_the_stock_invariant_is_checked_at_every_position() -> None:
    over = event("STOCK", 2, "A", "StockReserved", "c1", order_id=ORDER, quantity=6)
    assert [v.check for v in check_invariant(fold([], [received(1, 5, "c"), over]))] == [
        "invariant"
    ]
    assert check_invariant(fold([], [received(1, 6, "c"), over])) == []


def test_views_are_compared_with_the_fold() -> None:
    folded = fold([placed()], [received(2, 5, "c")])
    assert check_view_rows(folded, dict(folded.orders), dict(folded.stock)) == []
    assert [v.check for v in check_view_rows(folded, {}, dict(folded.stock))] == ["view"]


def test_a_read_after_a_position_must_not_answer_an_older_row() -> None:
    folded = fold([placed(1), event("ORDERS", 4, ORDER, "OrderCancelled", "c2", reason="x")], [])
    path = f"/orders/{ORDER}?after=ORDERS:4&wait=10"
    fresh = call(3, "get_order", path, 200, {"version": 2}, method="GET")
    stale = call(4, "get_order", path, 200, {"version": 1}, method="GET")
    missing = call(5, "get_order", path, 404, method="GET")
    lagging = call(6, "get_order", path, 503, method="GET")
    found = check_reads([fresh, stale, missing, lagging], folded)
    assert [v.check for v in found] == ["stale-read", "stale-read"]


def _ledger(*authorized: str, refunds: int = 0) -> dict[str, Any]:
    answers = {
        f"key-{i}": {
            "order_id": ORDER,
            "amount": "2.00",
            "answer": {"status": "authorized", "authorization_id": auth},
        }
        for i, auth in enumerate(authorized)
    }
    refunded = {f"r-{i}": {"order_id": ORDER, "amount": "2.00"} for i in range(refunds)}
    return {"authorizations": answers, "refunds": refunded, "calls": {}}


def test_the_gateway_books_agree_with_the_payments_stream() -> None:
    streams = _fulfilled()
    folded = fold(streams.events["ORDERS"], streams.events["STOCK"])
    assert check_ledger(streams, folded, _ledger("auth-0")) == ([], [])
    found, _ = check_ledger(streams, folded, _ledger("auth-0", "auth-1"))
    assert [v.check for v in found] == ["charged-twice"]
    found, _ = check_ledger(streams, folded, _ledger("auth-0", refunds=1))
    assert [v.check for v in found] == ["ledger"]
    unrecorded = Streams(events={"ORDERS": [placed()], "STOCK": [], "PAYMENTS": []})
    found, notes = check_ledger(unrecorded, fold([placed()], []), _ledger("auth-0"))
    assert found == [] and "never recorded" in notes[0]


def test_a_violation_is_explained_by_its_seed_and_minimal_history() -> None:
    history = History(seed=4242)
    history.calls += [place_call(), call(2, "receive", "/stock/B/receive", 202)]
    history.fault("kill_role", "api-0", "SIGKILL")
    (lost,) = check_commands([place_call()], [])
    text = explain(lost, history, [])
    assert "python -m chaos --seed 4242" in text
    assert "/orders" in text and "/stock/B" not in text and "kill_role api-0" in text
