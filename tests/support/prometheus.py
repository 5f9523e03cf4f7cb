"""A real Prometheus server (Debian's `prometheus` package) for tests: on a free loopback
port, scraping the given targets every second or two and evaluating the given rule files;
queried over its HTTP API."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tally.embedded.ports import free_port

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
MISSING = "needs Prometheus and promtool: apt-get install -y prometheus (.ci/run does)"


@dataclass(frozen=True)
class ScrapeTarget:
    """One metrics endpoint: `tally up`'s API, or a worker role's TALLY_METRICS_PORT."""

    address: str  # host:port
    job: str = "tally"  # the dashboard and the alerts select jobs named tally*
    path: str = "/metrics"


def prometheus_config(
    targets: Sequence[ScrapeTarget], rule_files: Sequence[Path], interval: float
) -> dict[str, Any]:
    """A configuration (YAML is a superset of JSON) with one scrape job per job name."""
    jobs: dict[tuple[str, str], list[str]] = {}
    for target in targets:
        jobs.setdefault((target.job, target.path), []).append(target.address)
    seconds = f"{interval:g}s"
    return {
        "global": {
            "scrape_interval": seconds,
            "scrape_timeout": seconds,
            "evaluation_interval": "1s",
        },
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": [
            {"job_name": job, "metrics_path": path, "static_configs": [{"targets": addresses}]}
            for (job, path), addresses in jobs.items()
        ],
    }


class Prometheus:
    def __init__(self, base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.base, self.proc, self.log = base, proc, log
        self.http = httpx.Client(base_url=base, timeout=10)

    def api(self, path: str, **params: str) -> Any:
        answer = self.http.get(f"/api/v1/{path}", params=params)
        body = answer.json()
        assert body.get("status") == "success", (path, params, body)
        return body["data"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        """The instant vector (or scalar, as one series) `promql` evaluates to now."""
        data = self.api("query", query=promql)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def metric_names(self) -> set[str]:
        return set(self.api("label/__name__/values"))

    def firing(self) -> list[dict[str, Any]]:
        return [alert for alert in self.api("alerts")["alerts"] if alert["state"] == "firing"]

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            with contextlib.suppress(httpx.HTTPError):
                if self.http.get("/-/ready").status_code == 200:
                    return
            time.sleep(0.2)
        raise AssertionError("Prometheus did not become ready:\n" + self.log.read_text()[-3000:])


@contextlib.contextmanager
def running_prometheus(
    home: Path,
    targets: Sequence[ScrapeTarget],
    rule_files: Sequence[Path] = (),
    interval: float = 2.0,
) -> Iterator[Prometheus]:
    assert PROMETHEUS, MISSING
    home.mkdir(parents=True, exist_ok=True)
    config = home / "prometheus.yml"
    config.write_text(json.dumps(prometheus_config(targets, rule_files, interval), indent=2))
    port, log = free_port(), home / "prometheus.log"
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )
    server = Prometheus(f"http://127.0.0.1:{port}", proc, log)
    try:
        server.wait_ready()
        yield server
    finally:
        server.http.close()
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
