"""What a fault scenario did and verified, printed as a summary (`pytest -m faults -s`).

Each scenario notes its steps and sets its figures (faults injected, longest recovery,
lost and doubled events); the summary ends with one `FAULTS <name> key=value ...` line
that a closing note can quote or a script can collect.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class FaultReport:
    scenario: str
    started: float = field(default_factory=time.monotonic)
    notes: list[str] = field(default_factory=list)
    figures: dict[str, object] = field(default_factory=dict)
    recoveries: list[float] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.notes.append(f"[{time.monotonic() - self.started:6.1f}s] {text}")

    def figure(self, name: str, value: object) -> None:
        self.figures[name] = value

    def fault(self, what: str, count: int = 1) -> None:
        self.figures["faults"] = int(str(self.figures.get("faults", 0))) + count
        self.note(what)

    def recovered(self, seconds: float, what: str = "recovered") -> None:
        self.recoveries.append(seconds)
        self.note(f"{what} in {seconds:.2f} s")

    def summary(self) -> str:
        figures = dict(self.figures)
        figures.setdefault("faults", 0)
        if self.recoveries:
            figures["longest_recovery_s"] = f"{max(self.recoveries):.2f}"
        figures["runtime_s"] = f"{time.monotonic() - self.started:.1f}"
        line = " ".join(f"{key}={value}" for key, value in figures.items())
        body = "\n".join(f"  {note}" for note in self.notes)
        return f"\n=== fault scenario: {self.scenario}\n{body}\nFAULTS {self.scenario} {line}\n"
