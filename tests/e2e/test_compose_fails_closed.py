"""docker/compose.yml fails closed (README "Securing Tally", docs/docker.md): every secret
must be given (no defaults), the API is published on 127.0.0.1 unless the operator says
otherwise, each role gets only its own database URL, and the NATS nodes' routes and
monitoring sit on a network of their own. Static checks, no Docker daemon needed;
`scripts/check-docker` (tests/e2e/test_docker_files.py) renders the file with and without
the secrets."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

DOCKER_DIR = Path(__file__).resolve().parents[2] / "docker"
COMPOSE = DOCKER_DIR / "compose.yml"
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z0-9_]+)(?P<op>:?[-?+])?(?P<rest>[^}]*)\}")
SECRET = re.compile(r"PASSWORD|TOKEN|SECRET|KEY")
DATABASE_URLS = (
    "DATABASE_URL",
    "TALLY_QUERY_DATABASE_URL",
    "TALLY_PROJECTOR_DATABASE_URL",
    "TALLY_ADMIN_DATABASE_URL",
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed")
    found = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    assert isinstance(found, dict)
    return found


def environment(service: dict[str, Any]) -> dict[str, str]:
    return {str(key): str(value) for key, value in (service.get("environment") or {}).items()}


def test_every_secret_must_be_given_and_has_no_default() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    secrets = [m for m in INTERPOLATION.finditer(text) if SECRET.search(m["name"])]
    assert {m["name"] for m in secrets} >= {"TALLY_API_TOKENS", "POSTGRES_PASSWORD"}
    defaults = [m[0] for m in secrets if m["op"] in ("-", ":-", "+", ":+")]
    assert defaults == [], f"secrets with a default: {defaults}"
    required = {m["name"] for m in secrets if m["op"] == ":?"}
    assert {m["name"] for m in secrets} == required  # each is `${NAME:?…}` at least once
    for path in (COMPOSE, DOCKER_DIR / "nats" / "nats.conf", DOCKER_DIR / "postgres/roles.sh"):
        assert "change-me" not in path.read_text(encoding="utf-8"), path


def test_published_ports_bind_loopback_unless_told_otherwise(services: dict[str, Any]) -> None:
    published = {name: s["ports"] for name, s in services.items() if s.get("ports")}
    observability = {
        name for name, s in services.items() if "observability" in s.get("profiles", [])
    }
    assert set(published) - observability == {"api"}, published
    for port in published["api"]:
        assert str(port).startswith(("127.0.0.1:", "${TALLY_API_BIND:-127.0.0.1}:")), port
    for name in observability & set(published):  # Prometheus and Grafana: loopback only
        assert all(str(port).startswith("127.0.0.1:") for port in published[name]), name


def test_each_role_gets_only_its_own_database_url(services: dict[str, Any]) -> None:
    urls = {
        role: {
            key: value for key, value in environment(services[role]).items() if key in DATABASE_URLS
        }
        for role in ("migrate", "api", "projector", "fulfilment")
    }
    assert set(urls["migrate"]) == {"DATABASE_URL"}
    assert urls["migrate"]["DATABASE_URL"].startswith("postgresql://tally:${POSTGRES_PASSWORD")
    assert set(urls["api"]) == {"TALLY_QUERY_DATABASE_URL", "TALLY_ADMIN_DATABASE_URL"}
    assert urls["api"]["TALLY_QUERY_DATABASE_URL"].startswith("postgresql://tally_api:")
    # the admin routes' rows (pauses, replay requests, dead letters): a writer, no DDL
    assert urls["api"]["TALLY_ADMIN_DATABASE_URL"].startswith("postgresql://tally_projection:")
    assert set(urls["projector"]) == {"TALLY_PROJECTOR_DATABASE_URL"}
    assert urls["projector"]["TALLY_PROJECTOR_DATABASE_URL"].startswith(
        "postgresql://tally_projection:"
    )
    assert urls["fulfilment"] == {}
    owners = [name for name, s in services.items() if "POSTGRES_PASSWORD}" in str(s)]
    owners += [name for name, s in services.items() if "${POSTGRES_PASSWORD:" in str(s)]
    assert set(owners) <= {"migrate", "postgres"}, owners


def test_routes_and_monitoring_sit_on_the_nodes_own_network(services: dict[str, Any]) -> None:
    conf = (DOCKER_DIR / "nats" / "nats.conf").read_text(encoding="utf-8")
    cluster = re.search(r"^cluster\s*\{(.*?)^\}", conf, re.MULTILINE | re.DOTALL)
    assert cluster is not None
    assert re.search(r"^\s*http\s*:\s*\$NATS_MONITOR_LISTEN\s*$", conf, re.MULTILINE)
    assert re.search(r"^\s*listen\s*:\s*\$NATS_CLUSTER_LISTEN\s*$", cluster[1], re.MULTILINE)
    assert re.search(r"authorization\s*\{[^}]*password:\s*\$NATS_ROUTE_PASSWORD", cluster[1])
    nodes = [name for name, s in services.items() if str(s.get("image", "")).startswith("nats:")]
    for node in nodes:
        env, networks = environment(services[node]), services[node]["networks"]
        assert env["NATS_CLUSTER_LISTEN"] == f"{node}-cluster:6222"
        assert env["NATS_MONITOR_LISTEN"] == f"{node}-cluster:8222"
        assert networks["nats-cluster"]["aliases"] == [f"{node}-cluster"]
        routes = [env[f"NATS_ROUTE_{index}"] for index in (1, 2, 3)]
        assert all(r.startswith("nats-route://route:${NATS_ROUTE_PASSWORD}@") for r in routes)
    others = [name for name, s in services.items() if name not in nodes]
    assert all("nats-cluster" not in (services[name].get("networks") or {}) for name in others)
    yaml = pytest.importorskip("yaml")
    document = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert document["networks"]["nats-cluster"]["internal"] is True
