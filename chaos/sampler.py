"""Resident memory and open file descriptors of named processes, and the machine's load
average (it is shared), sampled at an interval: for the chaos run's RSS drift and the
soak's per-minute table."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import psutil

MB = 1024 * 1024


@dataclass
class Sample:
    at: float
    rss: int
    fds: int


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
                taken[name] = Sample(at, process.memory_info().rss, process.num_fds())
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
