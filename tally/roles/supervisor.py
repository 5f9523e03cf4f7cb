"""Role processes under one supervisor: `tally up` (the API, fulfilment and the projectors
each in a process of its own, so that they use the machine's cores) and `tally api
--workers N` (N API processes on one port).

Each child is a `tally` command run with this interpreter. One that exits while the
supervisor is not stopping is logged with its exit status and started again after a
backoff (1 s, doubling to 30 s; back to 1 s once a child has run for a minute). Stopping
(SIGINT/SIGTERM to the supervisor; a terminal's Ctrl-C reaches the children too) sends
SIGTERM to every child, waits for them (each stops cleanly: drains its connections), and
kills what is still running after `stop_timeout`. On Linux a child is also sent SIGTERM
when the supervisor dies without stopping it (SIGKILL, OOM): no role outlives it.
"""

import asyncio
import contextlib
import ctypes
import logging
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

log = logging.getLogger("tally.supervisor")
FIRST_DELAY = 1.0
MAX_DELAY = 30.0
HEALTHY_AFTER = 60.0
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Child:
    """A role process: `tally <args>` with `env` (the whole environment it runs with)."""

    name: str
    args: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)

    def argv(self) -> list[str]:
        # -P: the working directory is not put on the path (a stray inspect.py there
        # would shadow the standard library)
        return [sys.executable, "-P", "-m", "tally.cli", *self.args]


def _stop_with_parent() -> None:
    """In the child before it runs: SIGTERM when the parent dies (Linux's
    PR_SET_PDEATHSIG; elsewhere nothing)."""
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Supervisor:
    def __init__(self, children: Sequence[Child], *, stop_timeout: float = 15.0) -> None:
        self._children = list(children)
        self._stop_timeout = stop_timeout
        self._running: dict[str, asyncio.subprocess.Process] = {}
        self.restarts: dict[str, int] = {child.name: 0 for child in children}

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set: every child running, a crashed one started again."""
        keepers = [asyncio.create_task(self._keep(child, stop)) for child in self._children]
        try:
            await stop.wait()
        finally:
            await self._stop_all()
            for keeper in keepers:
                keeper.cancel()
            await asyncio.gather(*keepers, return_exceptions=True)

    def pid(self, name: str) -> int | None:
        process = self._running.get(name)
        return process.pid if process is not None else None

    async def _keep(self, child: Child, stop: asyncio.Event) -> None:
        delay = FIRST_DELAY
        while not stop.is_set():
            started = time.monotonic()
            process = await asyncio.create_subprocess_exec(
                *child.argv(), env=dict(child.env), preexec_fn=_stop_with_parent
            )
            self._running[child.name] = process
            if stop.is_set():  # stopping began while it started: `_stop_all` may miss it
                process.send_signal(signal.SIGTERM)
                await process.wait()
                return
            log.info("role started", extra={"role": child.name, "pid": process.pid})
            code = await process.wait()
            if stop.is_set():
                return
            if time.monotonic() - started > HEALTHY_AFTER:
                delay = FIRST_DELAY
            self.restarts[child.name] += 1
            log.error(
                "role exited; starting it again",
                extra={"role": child.name, "exit_code": code, "restart_in_s": delay},
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, MAX_DELAY)

    async def _stop_all(self) -> None:
        running = [p for p in self._running.values() if p.returncode is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        waiting = [asyncio.create_task(process.wait()) for process in running]
        if not waiting:
            return
        _, late = await asyncio.wait(waiting, timeout=self._stop_timeout)
        if late:
            log.warning("roles did not stop in time: killed", extra={"count": len(late)})
            for process in running:
                if process.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
            await asyncio.gather(*late, return_exceptions=True)
