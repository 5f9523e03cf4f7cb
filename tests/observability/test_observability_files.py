"""docker/observability/ checked without a running Tally: the alert rules and Prometheus'
configuration by promtool (syntax, and the rules' unit tests on made-up series), the
Grafana dashboard's shape, and the compose profile that runs them."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from support.prometheus import MISSING, PROMTOOL
from support.promql import ALERTS, DASHBOARDS, OBSERVABILITY, panels, with_bool_comparisons

pytestmark = pytest.mark.observability
ROOT = OBSERVABILITY.parents[1]
PROMETHEUS_DIR = OBSERVABILITY / "prometheus"
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason=MISSING)


def promtool(*args: str) -> str:
    assert PROMTOOL
    done = subprocess.run(
        [PROMTOOL, *args], cwd=PROMETHEUS_DIR, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


@needs_promtool
def test_promtool_accepts_the_rules_and_the_configuration() -> None:
    alerts = re.findall(r"^\s*- alert: (\w+)", ALERTS.read_text(), re.MULTILINE)
    assert f"SUCCESS: {len(alerts)} rules found" in promtool("check", "rules", ALERTS.name)
    assert "is valid prometheus config" in promtool("check", "config", "prometheus.yml")


@needs_promtool
def test_every_alert_fires_in_its_unit_tests() -> None:
    tests = PROMETHEUS_DIR / "alerts.test.yml"
    assert "SUCCESS" in promtool("test", "rules", tests.name)
    alerts = set(re.findall(r"^\s*- alert: (\w+)", ALERTS.read_text(), re.MULTILINE))
    firing = set(re.findall(r"alertname: (\w+)\n\s+exp_alerts:\n", tests.read_text()))
    assert firing == alerts, "alerts without a unit test in which they fire"


def test_thresholds_become_bool_comparisons_outside_label_matchers() -> None:
    expression = 'a{x!="1",y=~"5.."} > 0 and on (p) b == 0 / c{z="a>b"} >= bool 1'
    assert with_bool_comparisons(expression) == (
        'a{x!="1",y=~"5.."} > bool 0 and on (p) b == bool 0 / c{z="a>b"} >= bool 1'
    )


def test_the_dashboard_is_whole() -> None:
    dashboards = sorted(DASHBOARDS.glob("*.json"))
    assert [path.name for path in dashboards] == ["tally.json"]
    dashboard: dict[str, Any] = json.loads(dashboards[0].read_text())
    assert dashboard["uid"] and dashboard["title"] == "Tally"
    variables = {var["name"]: var for var in dashboard["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in panels(dashboard):
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0, panel["title"]
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"] and all(target["expr"] for target in panel["targets"])
        assert len({target["refId"] for target in panel["targets"]}) == len(panel["targets"])
    titles = " ".join(panel["title"].lower() for panel in panels(dashboard))
    for subject in ("route", "4xx", "conflicts", "appended", "lag", "dead letters", "breaker"):
        assert subject in titles, subject
    for subject in ("step latency", "outcome", "memory", "cpu"):
        assert subject in titles, subject


# --- the compose profile -------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="needs docker-compose")
def test_compose_file_is_valid_with_the_observability_profile(tmp_path: Path) -> None:
    """As scripts/check-docker checks it: every required secret set to a placeholder, no
    .env file; the profile adds no variable that everyone would have to set."""
    compose = ROOT / "docker" / "compose.yml"
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", compose.read_text()))
    env = {k: v for k, v in os.environ.items() if k not in required}
    env |= {name: f"placeholder0{name}" for name in required}
    (tmp_path / "empty.env").write_text("")
    for profile in ([], ["--profile", "observability"]):
        command = ["docker-compose", "--env-file", str(tmp_path / "empty.env"), "-f", str(compose)]
        done = subprocess.run(
            [*command, *profile, "config", "-q"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert done.returncode == 0, done.stderr
    assert not {"PROMETHEUS_PORT", "GRAFANA_PORT"} & required


def test_prometheus_scrapes_every_role_and_grafana_loads_the_dashboard() -> None:
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed")
    docker = ROOT / "docker"
    services = yaml.safe_load((docker / "compose.yml").read_text())["services"]
    prometheus, grafana = services["prometheus"], services["grafana"]
    assert prometheus["profiles"] == grafana["profiles"] == ["observability"]
    for service in (prometheus, grafana):
        for volume in service["volumes"]:
            source = volume.split(":")[0]
            assert not source.startswith(".") or (docker / source).exists(), volume
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    scraped = {
        target: job["job_name"]
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    assert all(job.startswith("tally") for job in scraped.values())
    assert set(scraped) == {"api:8000", "projector:9100", "fulfilment:9100"}
    for worker in ("projector", "fulfilment"):
        env = {**services[worker]["environment"]}
        assert env["TALLY_METRICS_PORT"] == "9100" and env["TALLY_HOST"] == "0.0.0.0", worker
    provider = yaml.safe_load(
        (OBSERVABILITY / "grafana" / "provisioning" / "dashboards" / "tally.yml").read_text()
    )
    mounts = dict(reversed(volume.split(":")[:2]) for volume in grafana["volumes"])
    path = provider["providers"][0]["options"]["path"]
    assert Path(docker / mounts[path]).resolve() == DASHBOARDS.resolve()
