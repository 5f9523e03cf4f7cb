"""What a chaos run did and found, printed at its end: operations by kind and answer,
faults by kind, the model's violations (each with its minimal history), RSS drift, and
one `CHAOS key=value ...` line that a test or a note can quote."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from chaos.explain import explain
from chaos.history import History
from chaos.streams import Stored
from chaos.violations import Violation

MAX_EXPLAINED = 10


@dataclass
class Outcome:
    history: History
    events: list[Stored] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    figures: dict[str, object] = field(default_factory=dict)
    rss: dict[str, tuple[float, float]] = field(default_factory=dict)
    restarts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.violations


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{key} {n}" for key, n in sorted(counter.items())) or "none"


def render(outcome: Outcome) -> str:
    history = outcome.history
    ops = Counter(c.op for c in history.calls)
    statuses = Counter(f"{c.op}:{c.status}" for c in history.calls)
    faults = Counter(f.kind for f in history.faults)
    lines = ["", f"=== chaos run, seed {history.seed}"]
    lines.append(f"operations ({len(history.calls)}): {_counts(ops)}")
    lines.append(f"answers: {_counts(statuses)}")
    lines.append(f"faults ({len(history.faults)}): {_counts(faults)}")
    lines += [f"  {fault.line()[:300]}" for fault in history.faults]
    lines += [f"note: {note}" for note in history.notes + outcome.notes]
    for name, (first, last) in sorted(outcome.rss.items()):
        restarts = outcome.restarts.get(name, 1) - 1
        again = f" ({restarts} restarts)" if restarts > 0 else ""
        lines.append(f"rss {name}: {first:.0f} -> {last:.0f} MB{again}")
    for violation in outcome.violations[:MAX_EXPLAINED]:
        lines.append(explain(violation, history, outcome.events))
    if len(outcome.violations) > MAX_EXPLAINED:
        lines += [f"VIOLATION {v}" for v in outcome.violations[MAX_EXPLAINED:]]
    figures = {
        "seed": history.seed,
        "operations": len(history.calls),
        "faults": len(history.faults),
        **outcome.figures,
        "violations": len(outcome.violations),
    }
    lines.append("CHAOS " + " ".join(f"{key}={value}" for key, value in figures.items()))
    return "\n".join(lines)
