"""The container files: docker/Dockerfile and docker/compose.yml (see docs/docker.md).

The first test runs the same static checks as `scripts/check-docker` (hadolint, compose
validation); the others read docker/compose.yml and check the shape that SPEC.md §5 asks
for. None of them needs a Docker daemon.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKER_DIR = ROOT / "docker"
COMPOSE_FILE = DOCKER_DIR / "compose.yml"
CHECK_DOCKER = ROOT / "scripts" / "check-docker"

TALLY_ROLES = ("migrate", "api", "projector", "fulfilment")
DAEMON_RESTARTS = {"always", "unless-stopped", "on-failure"}

Service = dict[str, Any]


@pytest.mark.e2e
def test_check_docker_script_passes() -> None:
    result = subprocess.run(
        [str(CHECK_DOCKER)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    skipped = [line for line in output.splitlines() if line.startswith("SKIPPED:")]
    if skipped:
        pytest.skip("; ".join(skipped))


# --- reading compose.yml -------------------------------------------------------------------


@pytest.fixture(scope="module")
def services() -> dict[str, Service]:
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed")
    document = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    found = document.get("services")
    assert isinstance(found, dict) and found, "compose.yml has no services"
    return found


def nats_nodes(services: dict[str, Service]) -> list[str]:
    return sorted(
        name
        for name, service in services.items()
        if str(service.get("image", "")).startswith("nats:")
    )


def environment(service: Service) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (str(item).partition("=") for item in env)
        return {key: value for key, _, value in pairs}
    return {str(key): str(value) for key, value in env.items()}


def dependencies(service: Service) -> dict[str, str]:
    """Each dependency with its condition (the short list syntax means service_started)."""
    depends_on = service.get("depends_on") or {}
    if isinstance(depends_on, list):
        return {str(name): "service_started" for name in depends_on}
    return {
        str(name): str((spec or {}).get("condition", "service_started"))
        for name, spec in depends_on.items()
    }


def healthcheck_command(service: Service) -> str | None:
    check = service.get("healthcheck")
    if not check or check.get("disable"):
        return None
    test = check.get("test")
    if isinstance(test, list):
        return " ".join(str(part) for part in test)
    return str(test) if test else None


def memory_limit(service: Service) -> str | None:
    if service.get("mem_limit"):
        return str(service["mem_limit"])
    limits = ((service.get("deploy") or {}).get("resources") or {}).get("limits") or {}
    memory = limits.get("memory")
    return str(memory) if memory else None


def mounts(service: Service) -> dict[str, str]:
    """Container path -> source of every volume or bind mount."""
    found: dict[str, str] = {}
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            found[str(volume["target"])] = str(volume.get("source", ""))
        else:
            source, _, rest = str(volume).partition(":")
            found[rest.split(":")[0]] = source
    return found


def flag_value(command: list[str], *flags: str) -> str | None:
    for i, arg in enumerate(command):
        for flag in flags:
            if arg == flag and i + 1 < len(command):
                return command[i + 1]
            if arg.startswith(flag + "="):
                return arg.split("=", 1)[1]
    return None


def command_of(service: Service) -> list[str]:
    command = service.get("command") or []
    return command.split() if isinstance(command, str) else [str(arg) for arg in command]


# --- the NATS cluster ----------------------------------------------------------------------


def test_three_nats_nodes_form_one_jetstream_cluster(services: dict[str, Service]) -> None:
    nodes = nats_nodes(services)
    assert len(nodes) == 3, nodes

    server_names: list[str] = []
    config_files: set[str] = set()
    data_volumes: set[str] = set()
    for node in nodes:
        service = services[node]
        tag = str(service["image"]).split(":", 1)[1]
        version = tuple(int(part) for part in re.findall(r"\d+", tag)[:2])
        assert version >= (2, 14), f"{node}: {service['image']} is older than nats 2.14"

        command = command_of(service)
        name = flag_value(command, "--name", "-n", "--server_name")
        assert name, f"{node} has no server name on its command line"
        server_names.append(name)

        config = flag_value(command, "--config", "-c")
        assert config, f"{node} has no --config"
        mounted = mounts(service)
        assert config in mounted, f"{node} does not mount its config {config}"
        config_files.add(mounted[config])
        data_volumes.update(source for target, source in mounted.items() if target != config)

        check = healthcheck_command(service)
        assert check and "8222/healthz" in check, f"{node} healthcheck: {check}"
        assert service.get("restart") in DAEMON_RESTARTS
        assert memory_limit(service), f"{node} has no memory limit"

    assert len(set(server_names)) == 3, f"server names are not distinct: {server_names}"
    assert len(config_files) == 1, f"nodes use different configs: {config_files}"
    assert len(data_volumes) == 3, f"each node needs its own JetStream store: {data_volumes}"

    conf = (DOCKER_DIR / next(iter(config_files))).read_text(encoding="utf-8")
    assert re.search(r"^\s*jetstream\s*[{:]", conf, re.MULTILINE), "JetStream is not enabled"
    cluster = re.search(r"^cluster\s*\{(.*?)^\}", conf, re.MULTILINE | re.DOTALL)
    assert cluster, "no cluster block in the NATS config"
    assert re.search(r"^\s*name\s*[:=]\s*\S+", cluster.group(1), re.MULTILINE), "cluster name"
    routes = re.findall(r"\$(NATS_ROUTE_\d+)", cluster.group(1))
    for node in nodes:  # each route URL comes from the node's environment (with credentials)
        targets = {environment(services[node]).get(route, "") for route in routes}
        for other in nodes:
            assert any(f"@{other}-cluster:6222" in url for url in targets), (node, other)


# --- the Tally roles -----------------------------------------------------------------------


def test_tally_roles_share_one_image_build(services: dict[str, Service]) -> None:
    for role in TALLY_ROLES:
        assert role in services, f"no {role} service"
    builds = [services[role].get("build") for role in TALLY_ROLES]
    images = [services[role].get("image") for role in TALLY_ROLES]
    assert builds[0] and all(build == builds[0] for build in builds), builds
    assert images[0] and all(image == images[0] for image in images), images

    build = builds[0]
    context = build if isinstance(build, str) else build.get("context", ".")
    dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
    context_dir = (DOCKER_DIR / str(context)).resolve()
    assert context_dir == ROOT, f"build context {context_dir} is not the repository root"
    assert (context_dir / str(dockerfile)).resolve() == DOCKER_DIR / "Dockerfile"

    assert command_of(services["migrate"])[:1] == ["migrate"]
    assert command_of(services["api"])[:1] == ["api"]
    assert command_of(services["projector"])[:1] == ["project"]
    assert command_of(services["fulfilment"])[:1] == ["fulfil"]


def test_every_tally_role_talks_to_the_whole_cluster_at_three_replicas(
    services: dict[str, Service],
) -> None:
    nodes = set(nats_nodes(services))
    for role in TALLY_ROLES:
        env = environment(services[role])
        assert env.get("TALLY_STREAM_REPLICAS") == "3", role
        urls = [url.strip() for url in env.get("NATS_URL", "").split(",") if url.strip()]
        hosts = {re.sub(r"^\w+://", "", url).split(":")[0] for url in urls}
        assert hosts == nodes, f"{role} NATS_URL {urls} does not list {sorted(nodes)}"


def test_long_running_services_are_supervised(services: dict[str, Service]) -> None:
    for name, service in services.items():
        if name == "migrate":
            continue
        assert service.get("restart") in DAEMON_RESTARTS, f"{name} restart policy"
        conditions = {c for c in dependencies(service).values() if c != "service_started"}
        assert healthcheck_command(service) or conditions, f"{name}: no healthcheck or gate"
        assert memory_limit(service), f"{name} has no memory limit"

    for role in ("api", "projector", "fulfilment"):
        assert healthcheck_command(services[role]), f"{role} has no healthcheck"
        assert dependencies(services[role]).get("migrate") == "service_completed_successfully"

    ready_check = healthcheck_command(services["api"])
    assert ready_check and "/ready" in ready_check, ready_check
    ports = [str(port) for port in services["api"].get("ports") or []]
    assert any(port.endswith(":8000") or port == "8000" for port in ports), ports


def test_migrate_runs_once_after_postgres_and_nats_are_healthy(
    services: dict[str, Service],
) -> None:
    migrate = services["migrate"]
    assert "restart" in migrate, "migrate needs an explicit restart policy"
    assert str(migrate["restart"]) in {"no", "on-failure"} or str(migrate["restart"]).startswith(
        "on-failure:"
    )
    assert memory_limit(migrate), "migrate has no memory limit"
    wanted = {node: "service_healthy" for node in nats_nodes(services)}
    wanted["postgres"] = "service_healthy"
    assert dependencies(migrate) == wanted


def test_postgres_is_checked_and_persisted(services: dict[str, Service]) -> None:
    postgres = services["postgres"]
    major = re.match(r"postgres:(\d+)", str(postgres["image"]))
    assert major and int(major.group(1)) in {17, 18}, postgres["image"]
    check = healthcheck_command(postgres)
    assert check and "pg_isready" in check, check
    data_dir = "/var/lib/postgresql" if int(major.group(1)) >= 18 else "/var/lib/postgresql/data"
    assert data_dir in mounts(postgres), f"no volume at {data_dir}"
