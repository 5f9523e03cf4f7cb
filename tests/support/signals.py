"""Waiting until a child process handles a signal (its handler installed), read from
/proc: a test can then signal it at the earliest moment it promises to handle. And a
nats-server stalled (stopped) for the length of a block."""

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.servers import NatsServer


def handles(pid: int, sig: signal.Signals) -> bool:
    """True when process `pid` has a handler for `sig` (its SigCgt mask has the bit)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    for line in status.splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (sig - 1)))
    return False


def wait_for_handler(pid: int, sig: signal.Signals, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not handles(pid, sig):
        if time.monotonic() > deadline:
            raise TimeoutError(f"process {pid} installed no handler for {sig.name}")
        time.sleep(0.005)


def process_state(pid: int) -> str:
    """The one-letter state in /proc/<pid>/stat ("T": stopped)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rpartition(")")[2].split()[0]


@contextlib.contextmanager
def stalled(server: NatsServer) -> Iterator[int]:
    """The server process stopped (SIGSTOP): requests reach its socket, no answer leaves.
    Waits until the kernel has stopped it: a signal is delivered asynchronously."""
    pid = getattr(server, "pid", None)
    if pid is None:
        pytest.skip("needs the embedded nats-server, whose process the test can stop")
    os.kill(pid, signal.SIGSTOP)
    try:
        deadline = time.monotonic() + 10
        while process_state(pid) not in ("T", "t"):
            assert time.monotonic() < deadline, "nats-server did not stop"
            time.sleep(0.001)
        yield pid
    finally:
        os.kill(pid, signal.SIGCONT)
