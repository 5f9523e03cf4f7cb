"""The soak's figures: one row per minute (throughput, p50/p99 latency, projection lag,
open orders, the machine's load average, RSS, open file descriptors and CPU (cores) of
every process) and the verdict on drift: RSS growth per hour (least squares after the
warm-up) and p99 growth (the last third of the run against the first); and what the load
costs: cores per process and CPU per answered command."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from chaos.sampler import MB, Sample
from chaos.soak_load import Minute


@dataclass(frozen=True)
class Row:
    minute: int
    ok_per_s: float
    errors: int
    p50_ms: float
    p99_ms: float
    lag: int
    open_orders: int
    memory: dict[str, Sample]
    load: float = 0.0  # the machine's 1-minute load average (it is shared)
    cores: dict[str, float] = field(default_factory=dict)  # CPU over the minute / its length


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def row(
    minute: int,
    figures: Minute,
    lag: int,
    open_orders: int,
    memory: dict[str, Sample],
    load: float = 0.0,
    cores: dict[str, float] | None = None,
) -> Row:
    return Row(
        minute,
        len(figures.latencies) / 60,
        figures.errors,
        percentile(figures.latencies, 0.50) * 1000,
        percentile(figures.latencies, 0.99) * 1000,
        lag,
        open_orders,
        memory,
        load,
        cores or {},
    )


def cores_between(
    before: dict[str, Sample], after: dict[str, Sample], seconds: float
) -> dict[str, float]:
    """Cores each process used between two samples (a restarted one is left out)."""
    return {
        name: (sample.cpu - before[name].cpu) / seconds
        for name, sample in after.items()
        if name in before and seconds > 0 and sample.cpu >= before[name].cpu
    }


def header(names: list[str]) -> str:
    columns = " ".join(f"{name[:16]:>16}" for name in names)
    figures = (
        f"{'min':>3} {'ok/s':>6} {'err':>4} {'p50ms':>6} {'p99ms':>6} {'lag':>6} {'open':>7} "
        f"{'load':>5}"
    )
    return f"{figures} | RSS MB / fds / cores: {columns}"


def render(line: Row, names: list[str]) -> str:
    memory = " ".join(
        f"{line.memory[n].rss / MB:>6.0f} /{line.memory[n].fds:>4} /{line.cores.get(n, 0):>4.2f}"
        if n in line.memory
        else f"{'-':>16}"
        for n in names
    )
    return (
        f"{line.minute:>3} {line.ok_per_s:>6.1f} {line.errors:>4} {line.p50_ms:>6.1f} "
        f"{line.p99_ms:>6.1f} {line.lag:>6} {line.open_orders:>7} {line.load:>5.1f} | {memory}"
    )


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (minute, MB) points, in MB per hour."""
    if len(points) < 2:
        return 0.0
    xs, ys = [x for x, _ in points], [y for _, y in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return 0.0
    return 60 * sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def _per_open_order(steady: list[Row], name: str) -> str:
    """RSS growth per order opened meanwhile (orders that stay open hold state)."""
    held = [r for r in steady if name in r.memory]
    opened = held[-1].open_orders - held[0].open_orders if held else 0
    if opened <= 0:
        return ""
    grown = held[-1].memory[name].rss - held[0].memory[name].rss
    return f", {grown / opened / 1024:+.1f} KB per order opened"


def verdict(rows: list[Row], names: list[str], warmup: int) -> list[str]:
    steady = [r for r in rows if r.minute >= warmup] or rows
    lines = []
    for name in names:
        points = [(float(r.minute), r.memory[name].rss / MB) for r in steady if name in r.memory]
        if points:
            lines.append(
                f"drift {name}: RSS {points[0][1]:.0f} -> {points[-1][1]:.0f} MB, "
                f"{slope_per_hour(points):+.0f} MB/h after minute {warmup}"
                f"{_per_open_order(steady, name)}"
            )
    answered = [r for r in steady if r.ok_per_s > 0]  # a minute without answers has no p99
    third = max(1, len(answered) // 3)
    first = statistics.fmean(r.p99_ms for r in answered[:third]) if answered else 0.0
    last = statistics.fmean(r.p99_ms for r in answered[-third:]) if answered else 0.0
    growth = last / first if first else 0.0
    lines.append(
        f"drift p99: {first:.1f} ms (first third) -> {last:.1f} ms (last third), x{growth:.2f}"
    )
    lines += cpu_lines(answered, names)
    failing = [r for r in rows if r.errors]
    loads = [r.load for r in rows]
    lines.append(
        f"errors: {sum(r.errors for r in rows)} in {len(failing)} of {len(rows)} minutes, "
        f"{len(steady) - len(answered)} minutes without an answer; "
        f"load average {min(loads):.1f}-{max(loads):.1f}"
    )
    return lines


def cpu_lines(steady: list[Row], names: list[str]) -> list[str]:
    """What the load costs: mean cores of each process over the steady minutes, their
    sum, and CPU per answered command (every process's, NATS and PostgreSQL included)."""
    shares = {
        name: statistics.fmean(r.cores[name] for r in steady if name in r.cores)
        for name in names
        if any(name in r.cores for r in steady)
    }
    if not shares:
        return []
    total = sum(shares.values())
    answers = statistics.fmean(r.ok_per_s for r in steady)
    each = ", ".join(f"{name} {cores:.2f}" for name, cores in shares.items())
    per = f" ({total / answers * 1000:.2f} ms CPU per answered command)" if answers else ""
    return [f"cpu: {each} = {total:.2f} cores for {answers:.1f} answers/s{per}"]
