"""Process helpers shared by the embedded servers."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = ["ServerProcess", "ServerStartError", "kill", "log_tail", "signal_group", "terminate"]


class ServerStartError(RuntimeError):
    """An embedded server did not come up; the message ends with its log tail."""


class ServerProcess(ABC):
    """What the embedded servers share: the child process they run (None when stopped),
    whether it is running, and use as a context manager (started on entry, stopped on exit)."""

    _proc: subprocess.Popen[bytes] | None = None

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.running and self._proc else None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def log_tail(path: Path, start: int = 0, lines: int = 40) -> str:
    """The last `lines` lines of the log written after byte offset `start`."""
    try:
        with path.open("rb") as log:
            log.seek(start)
            text = log.read().decode("utf-8", "replace")
    except OSError as exc:
        return f"(log {path} unreadable: {exc})"
    tail = text.splitlines()[-lines:]
    return "\n".join(tail) if tail else f"(log {path} is empty)"


def signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    """Send `sig` to the process group `proc` leads (started with start_new_session).

    Call it before `proc` is reaped, so that its id cannot have been reused.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def kill(proc: subprocess.Popen[bytes], *, group: bool = False) -> None:
    """SIGKILL `proc` (and its whole process group when `group`) and reap it."""
    if proc.poll() is None:
        if group:
            signal_group(proc, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    proc.wait()


def terminate(
    proc: subprocess.Popen[bytes], sig: signal.Signals, timeout: float, *, group: bool = False
) -> None:
    """Send `sig`, wait up to `timeout` seconds for the exit, then SIGKILL."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            kill(proc, group=group)
    proc.wait()
