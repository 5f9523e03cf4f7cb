"""`tally up` at a fixed load (issue 12): the one-command system, its roles as processes
of their own, taking 100 orders/s + 30 receipts/s over 100 SKUs (the soak's open loop,
`chaos.soak_load`), so a slower system shows as latency and CPU, not as less load.

After a warm-up, the CPU of every process (API, fulfilment, projector, NATS, PostgreSQL
with its backends) is read over `seconds`: the cores the load keeps busy, and the CPU per
answered command; the p99 is of the answers sent in that window."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.harness import Figure
from bench.report import Row, at_most
from chaos.sampler import Sampler
from chaos.soak_load import SoakLoad
from chaos.soak_report import cores_between
from chaos.soak_target import TallyUp

ORDERS_PER_S, RECEIVES_PER_S = 100.0, 30.0
WARMUP_S = 15.0
FIGURES = [
    ("up_cores", "tally up, 100 orders/s + 30 receipts/s: cores busy", "cores"),
    ("up_cpu_command", "  ... CPU per answered command, all processes", "ms"),
    ("up_p99", "  ... command p99", "ms"),
    ("up_errors", "  ... commands not answered 2xx", "count"),
]


@dataclass
class UpLoad:
    cores: dict[str, float]
    answered: int
    errors: int
    p99_ms: float

    def describe(self) -> str:
        each = ", ".join(f"{name} {cores:.2f}" for name, cores in sorted(self.cores.items()))
        return (
            f"tally up: {sum(self.cores.values()):.2f} cores ({each}), {self.answered} answered, "
            f"{self.errors} errors, p99 {self.p99_ms:.1f} ms"
        )


def _answers(load: SoakLoad) -> tuple[list[float], int]:
    latencies = [s for m in load.minutes.values() for s in m.latencies]
    return latencies, sum(m.errors for m in load.minutes.values())


async def _measure(seconds: float) -> UpLoad:
    target = TallyUp()
    await asyncio.to_thread(target.start)
    try:
        load = SoakLoad(target.base_url, ORDERS_PER_S, RECEIVES_PER_S)
        sampler = Sampler(target.pids)
        stop = asyncio.Event()
        running = asyncio.create_task(load.run(stop))
        await asyncio.sleep(WARMUP_S)
        answered_before, errors_before = _answers(load)
        skip = len(answered_before)
        before, started = sampler.sample(0), time.monotonic()
        await asyncio.sleep(seconds)
        after, elapsed = sampler.sample(1), time.monotonic() - started
        latencies, errors = _answers(load)
        stop.set()
        await running
    finally:
        await asyncio.to_thread(target.stop)
    window = sorted(latencies[skip:])  # minutes fill in order: what came after the warm-up
    cores = cores_between(before, after, elapsed)
    cores.pop("tally-up", None)  # the supervisor: idle, and its roles are counted each
    p99 = window[min(len(window) - 1, int(len(window) * 0.99))] * 1000 if window else 0.0
    return UpLoad(cores, len(window), errors - errors_before, p99)


def add_figures(add: Callable[[str, str, str], None]) -> None:
    for key, name, unit in FIGURES:
        add(key, name, unit)


def rows(f: dict[str, Figure]) -> list[Row]:
    """No ratio: what the load costs and how it is answered; every command answered."""
    errors = Row(f["up_errors"], (), "0", at_most(0))
    return [*(Row(f[key]) for key in ("up_cores", "up_cpu_command", "up_p99")), errors]


def up_phase(f: dict[str, Figure], seconds: float, say: Callable[[str], None]) -> None:
    say(f"tally up at {ORDERS_PER_S:g} orders/s + {RECEIVES_PER_S:g} receipts/s, {seconds:g} s")
    measured = asyncio.run(_measure(seconds))
    say(measured.describe())
    total = sum(measured.cores.values())
    f["up_cores"].runs.append(total)
    f["up_cpu_command"].runs.append(total * seconds / max(1, measured.answered) * 1000)
    f["up_p99"].runs.append(measured.p99_ms)
    f["up_errors"].runs.append(float(measured.errors))
