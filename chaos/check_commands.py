"""The model of the clients' commands: every 202 stored exactly once and as asked, a
refused command stored never, an ambiguous one (503 or no answer: the append may or may
not have been stored) at most once, idempotent repeats one effect with one answer, every
client-made event traced to a request, and no 5xx but 503."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from chaos.history import Call
from chaos.streams import Stored
from chaos.violations import Violation, violation

EVENT_OF = {
    "place": "OrderPlaced",
    "cancel": "OrderCancelled",
    "ship": "OrderShipped",
    "receive": "StockReceived",
    "adjust": "StockAdjusted",
}
CLIENT_EVENTS = frozenset(EVENT_OF.values())


def commands(calls: list[Call]) -> dict[int, list[Call]]:
    """Command number -> its attempts (POSTs only), in the order they were sent."""
    grouped: dict[int, list[Call]] = defaultdict(list)
    for call in calls:
        if call.method == "POST":
            grouped[call.command].append(call)
    return grouped


def check_commands(calls: list[Call], events: list[Stored]) -> list[Violation]:
    by_corr: dict[str, list[Stored]] = defaultdict(list)
    for event in events:
        if event.type in CLIENT_EVENTS:
            by_corr[event.correlation_id].append(event)
    found: list[Violation] = []
    known: dict[str, str] = {}
    for attempts in commands(calls).values():
        first = attempts[0]
        known[first.correlation_id] = EVENT_OF[first.op]
        found += _one_command(attempts, by_corr.get(first.correlation_id, []))
    for corr, stored in by_corr.items():
        for event in stored:
            if known.get(corr) != event.type:
                what = f"{event.type} at {event.stream}:{event.seq} caused by no client request"
                found.append(violation("uncaused", what, corr, event.entity))
    found += [
        violation("http-5xx", f"answered {c.status}: {c.method} {c.path}", c.correlation_id)
        for c in calls
        if c.status >= 500 and c.status != 503
    ]
    return found


def _one_command(attempts: list[Call], stored_all: list[Stored]) -> list[Violation]:
    first = attempts[0]
    corr = first.correlation_id
    stored = [e for e in stored_all if e.type == EVENT_OF[first.op]]
    accepted = [c for c in attempts if c.status == 202]
    ambiguous = any(c.ambiguous for c in attempts)
    summary = ", ".join(str(c.status) for c in attempts)
    if accepted and len(stored) != 1:
        check = "lost" if not stored else "doubled"
        what = f"{first.op} {first.path} answered {summary}; stored {len(stored)} times"
        return [violation(check, what, corr)]
    if not accepted and not ambiguous and stored:
        what = f"{first.op} {first.path} refused ({summary}) but stored at {stored[0].seq}"
        return [violation("refused-stored", what, corr, stored[0].entity)]
    if len(stored) > 1:
        what = f"{first.op} {first.path} ({summary}) stored {len(stored)} times"
        return [violation("doubled", what, corr)]
    if not stored:
        return []
    found = _as_asked(first, stored[0]) + _repeats(attempts, stored[0])
    positions = {str((c.answer or {}).get("position")) for c in accepted}
    if accepted and positions != {f"{stored[0].stream}:{stored[0].seq}"}:
        what = f"{first.op} answered positions {sorted(positions)}, stored at {stored[0].seq}"
        found.append(violation("answer", what, corr))
    return found


def _problem(call: Call) -> str:
    return str((call.answer or {}).get("type", "")).rpartition("/")[2]


def _repeats(attempts: list[Call], event: Stored) -> list[Violation]:
    """A keyed command that took effect: no attempt may be refused for its own effect
    (a repeat must get the answer, not e.g. 409 order-exists); 409 request-in-progress
    (a twin still running) is fine. A placed order is the one the answers name."""
    first = attempts[0]
    found = []
    refused = [
        c for c in attempts if 400 <= c.status < 500 and _problem(c) != "request-in-progress"
    ]
    if first.key is not None and refused:
        what = (
            f"keyed {first.op} {first.path} took effect at {event.stream}:{event.seq}, but a "
            f"repeat was answered {refused[0].status} {_problem(refused[0])}"
        )
        found.append(violation("idempotent-refused", what, first.correlation_id, event.entity))
    named = {str((c.answer or {}).get("order_id")) for c in attempts if c.status == 202}
    if first.op == "place" and named and named != {event.entity}:
        what = f"place answered order ids {sorted(named)}, stored {event.entity}"
        found.append(violation("answer", what, first.correlation_id))
    return found


def _as_asked(call: Call, event: Stored) -> list[Violation]:
    """The stored event is the one the request asked for (subject and data)."""
    body: dict[str, Any] = call.body or {}
    expected_subject = None
    if call.op in ("receive", "adjust"):
        expected_subject = f"stock.{call.path.split('/')[2]}"
    elif call.op in ("cancel", "ship"):
        expected_subject = f"orders.{call.path.split('/')[2]}"
    wrong = []
    if expected_subject is not None and event.subject != expected_subject:
        wrong.append(f"subject {event.subject}")
    for name in ("quantity", "delta", "customer_id", "reason"):
        if name in body and event.data.get(name) != body[name]:
            wrong.append(f"{name} {event.data.get(name)!r} != {body[name]!r}")
    if "lines" in body and len(event.data.get("lines", [])) != len(body["lines"]):
        wrong.append("lines")
    if not wrong:
        return []
    what = f"{call.op} stored at {event.stream}:{event.seq} differs: {', '.join(wrong)}"
    return [violation("as-asked", what, call.correlation_id)]
