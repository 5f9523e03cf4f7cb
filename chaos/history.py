"""What the clients sent and what they were answered, and what the faults did: the
history that the model is checked against, written as JSON lines for a later look."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

AMBIGUOUS = (0, 503)  # no answer, or "unavailable": the append may or may not be stored


@dataclass
class Call:
    """One HTTP request and its answer. Attempts of one logical command (an idempotent
    retry) share its `command` number, correlation id and key."""

    n: int
    command: int
    client: int
    op: str  # place, cancel, ship, receive, adjust, get_order, get_stock
    method: str
    path: str
    body: dict[str, Any] | None
    api: int
    correlation_id: str
    key: str | None
    sent: float  # seconds since the run started
    took: float = 0.0
    status: int = 0  # 0: no answer (connection refused or cut, client timeout)
    answer: dict[str, Any] | None = None
    error: str | None = None

    @property
    def ambiguous(self) -> bool:
        return self.status in AMBIGUOUS

    def line(self) -> str:
        key = f" key={self.key}" if self.key else ""
        body = json.dumps(self.body, separators=(",", ":")) if self.body else ""
        answer = json.dumps(self.answer, separators=(",", ":"))[:160] if self.answer else ""
        error = f" ({self.error})" if self.error else ""
        return (
            f"{self.sent:8.2f}s #{self.n} cmd {self.command} client {self.client} api-{self.api} "
            f"{self.method} {self.path} {body}{key} corr={self.correlation_id} -> "
            f"{self.status}{error} {answer} [{self.took:.2f}s]"
        )


@dataclass
class Fault:
    kind: str
    target: str
    started: float
    ended: float | None = None
    detail: str = ""

    def line(self) -> str:
        end = f"{self.ended:8.2f}s" if self.ended is not None else "   (open)"
        return f"{self.started:8.2f}s-{end} {self.kind} {self.target} {self.detail}".rstrip()


@dataclass
class History:
    seed: int
    started: float = field(default_factory=time.monotonic)
    wall_started: float = field(default_factory=time.time)
    calls: list[Call] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _next: int = 0

    def now(self) -> float:
        return time.monotonic() - self.started

    def wall(self, moment: float) -> float:
        """A run-relative time as a UNIX time (to compare with events' occurred_at)."""
        return self.wall_started + moment

    def number(self) -> int:
        self._next += 1
        return self._next

    def fault(self, kind: str, target: str, detail: str = "") -> Fault:
        fault = Fault(kind, target, self.now(), detail=detail)
        self.faults.append(fault)
        return fault

    def note(self, text: str) -> None:
        self.notes.append(f"{self.now():8.2f}s {text}")

    def write(self, directory: Path, events: list[Any] | None = None) -> None:
        """calls.jsonl, faults.jsonl, and events.jsonl (the stored events) when given."""
        directory.mkdir(parents=True, exist_ok=True)
        with (directory / "calls.jsonl").open("w") as out:
            for call in self.calls:
                out.write(json.dumps(asdict(call)) + "\n")
        with (directory / "faults.jsonl").open("w") as out:
            for fault in self.faults:
                out.write(json.dumps(asdict(fault)) + "\n")
        with (directory / "events.jsonl").open("w") as out:
            for event in events or []:
                out.write(json.dumps(asdict(event)) + "\n")
