"""Shared pieces of the benchmarks: servers, wrk runs, medians, the printed table."""

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tally.embedded.ports import free_port

VENV_BIN = Path(sys.executable).parent


@dataclass
class Figure:
    name: str
    unit: str
    runs: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    def describe(self) -> str:
        return (
            f"{self.median:>10,.0f} {self.unit} "
            f"(min {min(self.runs):,.0f}, max {max(self.runs):,.0f}, n={len(self.runs)})"
        )


def print_table(rows: list[tuple[Figure, Figure | None]], out: Path | None = None) -> None:
    print(f"\n{'measure':<48} {'median (min-max)':<48} ratio")
    result = []
    for figure, baseline in rows:
        ratio = figure.median / baseline.median if baseline else None
        text = f"{ratio:.2f}" if ratio is not None else "-"
        print(f"{figure.name:<48} {figure.describe():<48} {text}")
        result.append(
            {
                "name": figure.name,
                "unit": figure.unit,
                "runs": figure.runs,
                "median": figure.median,
                "baseline": baseline.name if baseline else None,
                "ratio": ratio,
            }
        )
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2))
        print(f"\nwritten to {out}")


@contextmanager
def scratch_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="tally-bench-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def process(
    cmd: list[str], env: dict[str, str], ready_url: str
) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(ready_url, timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{cmd} did not start")
            time.sleep(0.2)
        yield proc
    finally:
        proc.terminate()
        proc.wait(30)


def uvicorn_app(module: str, port: int) -> list[str]:
    return [
        str(VENV_BIN / "uvicorn"),
        module,
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]


def wrk(url: str, script: str, *, seconds: int = 10, connections: int = 32) -> float:
    """Requests per second that wrk measured (non-2xx answers make it fail loudly)."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script)
    done = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "-s", lua.name, url],
        capture_output=True,
        text=True,
        check=True,
    )
    os.unlink(lua.name)
    if "Non-2xx" in done.stdout:
        raise RuntimeError(f"wrk saw errors:\n{done.stdout}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    assert match, done.stdout
    return float(match.group(1))


def port() -> int:
    return free_port()
