"""Waiting until a child process handles a signal (its handler installed), read from
/proc: a test can then signal it at the earliest moment it promises to handle."""

import signal
import time
from pathlib import Path


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
