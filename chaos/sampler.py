"""Resident memory, open file descriptors and CPU time of named processes, and the
machine's load average (it is shared), sampled at an interval: for the chaos run's RSS
drift and the soak's per-minute table. PostgreSQL's CPU is the postmaster's and its
backends' (each connection is a process of its own)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import psutil

MB = 1024 * 1024


WITH_CHILDREN = frozenset({"postgres"})  # whose CPU includes its children's


@dataclass
class Sample:
    at: float
    rss: int
    fds: int
    cpu: float = 0.0  # seconds of CPU (user + system) since the process started


def cpu_seconds(process: psutil.Process, with_children: bool) -> float:
    processes = [process, *(process.children(recursive=True) if with_children else [])]
    total = 0.0
    for each in processes:
        with contextlib.suppress(psutil.Error):  # a backend may end meanwhile
            times = each.cpu_times()
            total += times.user + times.system
    return total


@dataclass
class Sampler:
    pids: Callable[[], dict[str, int | None]]  # name -> pid now (None: not running)
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    loads: list[float] = field(default_factory=list)  # the machine's 1-minute load average

    def sample(self, at: float) -> dict[str, Sample]:
        taken = {}
        self.loads.append(os.getloadavg()[0])
        for name, pid in self.pids().items():
            if pid is None:
                continue
            with contextlib.suppress(psutil.Error):
                process = psutil.Process(pid)
                cpu = cpu_seconds(process, name in WITH_CHILDREN)
                taken[name] = Sample(at, process.memory_info().rss, process.num_fds(), cpu)
                self.samples.setdefault(name, []).append(taken[name])
        return taken

    async def run(self, stop: asyncio.Event, clock: Callable[[], float], every: float) -> None:
        while not stop.is_set():
            self.sample(clock())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)

    def drift(self) -> dict[str, tuple[float, float]]:
        """name -> (first, last) RSS in MB."""
        return {
            name: (samples[0].rss / MB, samples[-1].rss / MB)
            for name, samples in self.samples.items()
            if samples
        }
