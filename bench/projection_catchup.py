"""The projection rows of `python -m bench` alone (catch-up of the real `tally project`
process on the orders and the stock view, the replay, their raw baselines from the same run)
and the projector's peak RSS and CPU per event over them, and the CPU per event of the
projector and of PostgreSQL (every backend) during each catch-up: the measure to alternate
before/after a change to the projectors without the HTTP and fulfilment rows around it.

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
    """CPU seconds of the projector and of PostgreSQL (the postmaster and every backend)
    while each view catches up, summed over the runs."""

    projector: int
    postmaster: int
    seconds: dict[str, dict[str, float]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(float))
    )

    def readings(self) -> dict[str, float]:
        return {
            "tally project": process_cpu(self.projector),
            "PostgreSQL": tree_cpu([self.postmaster]),
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
        return [
            f"{view} catch-up CPU per event: "
            + ", ".join(f"{name} {spent / events * 1e6:.1f} µs" for name, spent in by.items())
            for view, by in self.seconds.items()
        ]


def measure(
    home: Path, f: dict[str, Figure], args: argparse.Namespace
) -> tuple[float, float, CatchUpCpu]:
    """The stream phase of `python -m bench`; the projector's peak RSS in MB, its CPU
    seconds over the phase (it works only in the two catch-ups: the raw reads and the
    replay publish nothing) and the CPU of each catch-up."""
    with Cluster(home / "main") as cluster:
        projector = cluster.migrated().start("project")
        assert cluster.postgres is not None and cluster.postgres.pid is not None
        spent = CatchUpCpu(projector.proc.pid, cluster.postgres.pid)
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
    for line in spent.describe(args.events * args.runs):
        print(line)
    print(f"load average at end: {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
