"""The one table of `python -m bench`: each Tally figure beside its raw baseline from the
same run, the ratio of the medians, the target and whether it is met; also as JSON."""

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.harness import Figure


@dataclass
class Row:
    figure: Figure
    baselines: tuple[Figure, ...] = ()  # the ratio is taken against the slowest of these
    target: str = ""
    met: Callable[[float], bool] | None = None  # given the ratio, or the median if no baseline
    on_value: bool = False  # the target is on the median, not the ratio

    @property
    def baseline(self) -> Figure | None:
        usable = [b for b in self.baselines if b.runs]
        return min(usable, key=lambda b: b.median) if usable else None

    @property
    def ratio(self) -> float | None:
        base = self.baseline
        if base is None or not self.figure.runs or base.median == 0:
            return None
        return self.figure.median / base.median

    @property
    def verdict(self) -> str:
        if self.met is None or not self.figure.runs:
            return ""
        value = self.figure.median if self.on_value or not self.baselines else self.ratio
        if value is None:
            return "?"
        return "yes" if self.met(value) else "NO"


def at_least(limit: float) -> Callable[[float], bool]:
    return lambda value: value >= limit


def at_most(limit: float) -> Callable[[float], bool]:
    return lambda value: value <= limit


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def spread(figure: Figure) -> str:
    if not figure.runs:
        return "not measured"
    runs = figure.runs
    return (
        f"{_number(figure.median)} {figure.unit} "
        f"({_number(min(runs))}-{_number(max(runs))}, n={len(runs)})"
    )


def render(rows: list[Row]) -> str:
    head = ("measure", "median (min-max, runs)", "baseline (same run)", "ratio", "target", "met")
    lines = [head]
    for row in rows:
        base = row.baseline
        ratio = row.ratio
        lines.append(
            (
                row.figure.name,
                spread(row.figure),
                base.name if base else "-",
                f"{ratio:.2f}" if ratio is not None else "-",
                row.target or "-",
                row.verdict or "-",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = [
        "| " + " | ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) + " |"
        for line in lines
    ]
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def write_json(
    rows: list[Row],
    baselines: list[Figure],
    settings: dict[str, object],
    out: Path,
    details: dict[str, object] | None = None,
) -> None:
    """`details`: more of what the run saw, beside the rows (e.g. each confirm run's
    fulfilment counts)."""

    def figure(f: Figure) -> dict[str, object]:
        median = f.median if f.runs else None
        return {"name": f.name, "unit": f.unit, "runs": f.runs, "median": median}

    document = {
        "settings": settings,
        "rows": [
            {
                **figure(row.figure),
                "baseline": row.baseline.name if row.baseline else None,
                "ratio": row.ratio,
                "target": row.target,
                "met": row.verdict or None,
            }
            for row in rows
        ],
        "baselines": [figure(b) for b in baselines],
        **(details or {}),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2))
