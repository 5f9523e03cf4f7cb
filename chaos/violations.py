"""A broken promise found by a check, and what it is about (correlation ids, order ids,
SKUs): enough to pull the minimal history around it out of the whole run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Violation:
    check: str  # which promise: lost, doubled, uncaused, invariant, view, ...
    what: str  # one line, with the numbers
    focus: frozenset[str] = frozenset()
    at: tuple[str, int] | None = None  # the stream position it was found at

    def __str__(self) -> str:
        return f"[{self.check}] {self.what}"


def violation(
    check: str, what: str, *focus: str | None, at: tuple[str, int] | None = None
) -> Violation:
    return Violation(check, what, frozenset(f for f in focus if f), at)
