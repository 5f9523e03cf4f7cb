"""The projection rows of `python -m bench` alone (catch-up of the real `tally project`
process on the orders and the stock view, the catch-up's floor over the same events, the
replay, their raw baselines from the same run) and the projector's peak RSS and CPU per
event over them, and the CPU per event of the projector, this process (the raw reads and
the floor run in it), PostgreSQL (every backend) and nats-server during each catch-up, raw
read and floor; then per view the raw read, the floor and the projector side by side: the
measure to alternate before/after a change to the projectors without the HTTP and
fulfilment rows around it.

    .venv/bin/python -m bench.projection_catchup [--runs 2] [--events 200000]
        [--profile DIR] [--rate 500]

`--profile DIR` records the `tally project` process with py-spy (raw collapsed stacks,
`--rate` Hz, non-blocking) over the whole phase into DIR/project.txt.
"""

import argparse
import os
import signal
import subprocess
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import uvloop

from bench import projection_rows
from bench.cluster import Cluster
from bench.harness import VENV_BIN, Figure, scratch_dir
from bench.report import Row, render
from bench.system_cpu import process_cpu, tree_cpu

MB = 1024 * 1024
STARTED = time.monotonic()


def say(text: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.1f} s] {text}", flush=True)


def spy(pid: int, out: Path, rate: int) -> subprocess.Popen[bytes]:
    out.mkdir(parents=True, exist_ok=True)
    command = [str(VENV_BIN / "py-spy"), "record", "-f", "raw", "-r", str(rate), "--nonblocking"]
    return subprocess.Popen(
        [*command, "-p", str(pid), "-o", str(out / "project.txt")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@dataclass
class CatchUpCpu:
    """CPU seconds of the projector, of this process (the raw reads and the floor run in
    it), of PostgreSQL (the postmaster and every backend) and of nats-server during each
    watched part (a view's catch-up, a raw read, the floor), summed over the runs."""

    projector: int
    postmaster: int
    nats: int
    seconds: dict[str, dict[str, float]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(float))
    )

    def readings(self) -> dict[str, float]:
        return {
            "tally project": process_cpu(self.projector),
            "bench process": process_cpu(os.getpid()),
            "PostgreSQL": tree_cpu([self.postmaster]),
            "nats-server": process_cpu(self.nats),
        }

    @contextmanager
    def watch(self, view: str) -> Iterator[None]:
        before = self.readings()
        try:
            yield
        finally:
            for name, seconds in self.readings().items():
                self.seconds[view][name] += seconds - before[name]

    def describe(self, events: int) -> list[str]:
        """A line per watched part; the sum's ceiling: the events/s these processes would
        give if their CPU per event filled every core of the machine, and nothing else ran."""
        cores = os.cpu_count() or 1
        lines = []
        for part, by in self.seconds.items():
            each = ", ".join(f"{name} {spent / events * 1e6:.1f} µs" for name, spent in by.items())
            total = sum(by.values()) / events
            ceiling = f"{cores / total:,.0f}/s on {cores} cores" if total > 0 else "-"
            lines.append(
                f"{part} CPU per event: {each} (sum {total * 1e6:.1f} µs: at most {ceiling})"
            )
        return lines


def side_by_side(f: dict[str, Figure]) -> list[str]:
    """Per view: the raw reads, the floor and the projector of the same run (medians), the
    floor's and the projector's ratios to each read, and the projector's to the floor."""
    lines = []
    for view, keys in (
        ("orders", ("pull", "pull_plain", "floor", "floor_plain", "catch_up")),
        (
            "stock",
            (
                "pull_stock",
                "pull_stock_plain",
                "floor_stock",
                "floor_stock_plain",
                "catch_up_stock",
            ),
        ),
    ):
        if not all(f[key].runs for key in keys):
            continue
        read, plain, floor, floor_plain, project = (f[key].median for key in keys)

        def of(rate: float, read: float = read, plain: float = plain) -> str:
            return f"{rate:,.0f}/s ({rate / read:.2f} / {rate / plain:.2f})"

        lines.append(
            f"{view}: raw read {read:,.0f}/s with headers, {plain:,.0f}/s without;"
            f" (ratios to them) floor {of(floor)}, floor without headers {of(floor_plain)},"
            f" tally project {of(project)}; tally project ÷ floor {project / floor:.2f},"
            f" ÷ floor without headers {project / floor_plain:.2f}"
        )
    return lines


def measure(
    home: Path, f: dict[str, Figure], args: argparse.Namespace
) -> tuple[float, float, CatchUpCpu]:
    """The stream phase of `python -m bench`; the projector's peak RSS in MB, its CPU
    seconds over the phase (it works only in the two catch-ups: the raw reads and the
    replay publish nothing) and the CPU of each catch-up."""
    with Cluster(home / "main") as cluster:
        projector = cluster.migrated().start("project")
        assert cluster.postgres is not None and cluster.postgres.pid is not None
        assert cluster.nats.pid is not None
        spent = CatchUpCpu(projector.proc.pid, cluster.postgres.pid, cluster.nats.pid)
        time.sleep(3)  # connected, consumers bound: the first pause finds it idle
        say(f"tally project pid {projector.proc.pid}")
        recorder = spy(projector.proc.pid, args.profile, args.rate) if args.profile else None
        # the profile and the stream phase: py-spy is a separate process, the bench waits
        args.profile = None  # stream_phase's own (100 Hz, blocking) profiles: not these
        process = psutil.Process(projector.proc.pid)
        before = process.cpu_times()
        try:
            uvloop.run(projection_rows.stream_phase(cluster, projector, f, args, say, spent.watch))
            after = process.cpu_times()
        finally:
            if recorder is not None:
                recorder.send_signal(signal.SIGINT)
                recorder.wait(60)
        peak = cluster.rss.peaks.get("project", 0)
    cpu = (after.user + after.system) - (before.user + before.system)
    return peak / MB, cpu, spent


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--events", type=int, default=200_000, help="published per catch-up run")
    parser.add_argument("--profile", type=Path, default=None, help="py-spy raw profile here")
    parser.add_argument("--rate", type=int, default=500, help="py-spy samples per second")
    args = parser.parse_args()
    figures: dict[str, Figure] = {}
    projection_rows.add_figures(
        lambda key, name, unit: figures.__setitem__(key, Figure(name, unit)), args.events
    )
    print(f"load average at start: {os.getloadavg()}", flush=True)
    with scratch_dir() as home:
        peak, cpu, spent = measure(home, figures, args)
    measured = [row for row in projection_rows.rows(figures) if row.figure.runs]
    baselines = [
        Row(figure)
        for key, figure in figures.items()
        if figure.runs and key in projection_rows.BASELINES
    ]
    print(f"\n{render(measured + baselines)}\n")
    print(f"peak RSS tally project: {peak:.0f} MB")
    caught_up = 2 * args.events * args.runs  # orders and stock, each run
    print(f"tally project CPU: {cpu:.1f} s, {cpu / caught_up * 1e6:.1f} µs per event caught up")
    for line in [*spent.describe(args.events * args.runs), *side_by_side(figures)]:
        print(line)
    print(f"load average at end: {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
