"""Child processes of a deployment: started in their own session with stderr in a log
file, and the signals the faults send them (SIGKILL, SIGSTOP/SIGCONT, SIGINT)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil

VENV_BIN = Path(sys.executable).parent
TALLY = str(VENV_BIN / "tally")


class ChildProcess:
    """One command run as a child; `start` again after it died runs a new one."""

    def __init__(
        self, name: str, argv: list[str], env: dict[str, str], log: Path, *, control: bool = False
    ) -> None:
        """`control`: the child reads commands on its stdin (`send`)."""
        self.name, self.argv, self.env, self.log = name, argv, env, log
        self.control = control
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.paused = False

    def start(self) -> None:
        if self.alive:
            return
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                stdin=subprocess.PIPE if self.control else subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1
        self.paused = False

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.alive and self.proc is not None else None

    def send(self, line: str) -> None:
        """One command line to the child's stdin (a `control` child)."""
        if self.alive and self.proc is not None and self.proc.stdin is not None:
            self.proc.stdin.write(line.encode() + b"\n")
            self.proc.stdin.flush()

    def kill(self) -> None:
        """SIGKILL, as in a crash (a paused process dies too)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)
        self.paused = False

    def pause(self) -> None:
        """SIGSTOP: the process keeps its sockets and locks but does nothing."""
        if self.alive and self.proc is not None:
            self.proc.send_signal(signal.SIGSTOP)
            self.paused = True

    def resume(self) -> None:
        if self.alive and self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)
        self.paused = False

    def stop(self, timeout: float = 30) -> int | None:
        """SIGINT (a clean stop), SIGKILL after `timeout`; the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.resume()
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode

    def memory(self) -> tuple[int, int] | None:
        """(RSS bytes, open file descriptors), None when not running."""
        pid = self.pid
        if pid is None:
            return None
        with contextlib.suppress(psutil.Error):
            process = psutil.Process(pid)
            return process.memory_info().rss, process.num_fds()
        return None

    def tail(self, chars: int = 2000) -> str:
        with contextlib.suppress(OSError), self.log.open("rb") as log:
            log.seek(max(0, os.path.getsize(self.log) - chars))
            return log.read().decode(errors="replace")
        return ""


def tally(name: str, args: list[str], env: dict[str, str], logs: Path) -> ChildProcess:
    """`tally <args>` as a child process named `name`, logging to logs/<name>.log."""
    return ChildProcess(name, [TALLY, *args], env, logs / f"{name}.log")
