"""The minimal history around a violation: the requests, stored events and faults that
touch what it is about, so that a failing seed can be read without the whole run."""

from __future__ import annotations

from chaos.history import History
from chaos.streams import Stored
from chaos.violations import Violation

MARGIN = 5.0  # seconds of faults shown before the first and after the last request
MAX_LINES = 30


def _touches(text: str, focus: frozenset[str]) -> bool:
    return any(item in text for item in focus)


def _related(events: list[Stored], focus: frozenset[str]) -> list[Stored]:
    """Events about the focus: theirs by correlation id, subject or order, and the events
    of the same orders (what happened to them since)."""
    direct = [
        e
        for e in events
        if e.correlation_id in focus or e.entity in focus or (e.order_id or "") in focus
    ]
    orders = {e.order_id for e in direct if e.order_id}
    return [e for e in events if e in direct or e.order_id in orders]


def _window(events: list[Stored], at: tuple[str, int] | None) -> list[Stored]:
    """At most MAX_LINES events; with a position, its subject's events up to it."""
    if at is None or len(events) <= MAX_LINES:
        return events[:MAX_LINES]
    found = [e for e in events if (e.stream, e.seq) == at]
    if not found:
        return events[:MAX_LINES]
    subject = found[0].subject
    return [e for e in events if e.subject == subject and e.seq <= at[1]][-MAX_LINES:]


def explain(violation: Violation, history: History, events: list[Stored]) -> str:
    focus = violation.focus
    related = _related(events, focus)
    wider = focus | {e.correlation_id for e in related} | {e.entity for e in related}
    calls = [
        c
        for c in history.calls
        if c.correlation_id in wider or _touches(c.path, focus) or _touches(str(c.answer), focus)
    ]
    lines = [f"VIOLATION {violation}", f"  replay: python -m chaos --seed {history.seed}"]
    lines.append(f"  requests ({len(calls)}):")
    lines += [f"    {c.line()}" for c in calls[:MAX_LINES]]
    lines.append(f"  stored events ({len(related)}):")
    lines += [f"    {e.line()}" for e in _window(related, violation.at)]
    if calls:
        start, end = calls[0].sent - MARGIN, calls[-1].sent + calls[-1].took + MARGIN
        faults = [
            f
            for f in history.faults
            if f.started <= end and (f.ended if f.ended is not None else end) >= start
        ]
        lines.append(f"  faults from {start:.1f}s to {end:.1f}s ({len(faults)}):")
        lines += [f"    {f.line()}" for f in faults[:MAX_LINES]]
    return "\n".join(lines)
