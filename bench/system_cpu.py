"""CPU per placed order across the whole system: what a user pays for an order, whoever
spends it (the API, fulfilment, the projectors, nats-server, PostgreSQL).

From /proc: user + system time of each process of the system and of its children (a
PostgreSQL backend is a child of the postmaster; what exited children spent is in their
parent's `cutime`/`cstime`), read before the first POST and again once everything is idle
(the projections applied the last event, fulfilment has nothing pending), divided by the
orders placed. wrk places 2-line orders over well-stocked SKUs for `seconds` with every
role running, as in production.
"""

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import psutil

TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """Seconds of CPU of `pid` (user + system), with its reaped children's, from
    /proc/<pid>/stat (fields 14-17)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rpartition(")")[2].split()
    return sum(int(value) for value in fields[11:15]) / TICKS


def tree_cpu(pids: Iterable[int]) -> float:
    """Seconds of CPU of these processes and every live descendant (counted once)."""
    seen: set[int] = set()
    total = 0.0
    for pid in pids:
        try:
            family = [pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))]
        except psutil.Error:
            family = [pid]
        for member in family:
            if member not in seen:
                seen.add(member)
                total += process_cpu(member)
    return total


def postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "postmaster.pid").read_text().split()[0])


@dataclass
class SystemCpu:
    """CPU of a fixed set of processes (and their descendants) between two readings."""

    pids: dict[str, int]
    _start: dict[str, float] | None = None

    def reading(self) -> dict[str, float]:
        return {name: tree_cpu([pid]) for name, pid in self.pids.items()}

    def start(self) -> None:
        self._start = self.reading()

    def spent(self) -> dict[str, float]:
        """Seconds of CPU per process since `start()`."""
        assert self._start is not None, "start() first"
        now = self.reading()
        return {name: now[name] - self._start[name] for name in self.pids}
