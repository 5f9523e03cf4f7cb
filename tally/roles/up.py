"""`tally up`: everything on one machine. Embedded NATS and PostgreSQL (unless NATS_URL /
DATABASE_URL are set), migrations, then the roles as processes of their own under one
supervisor (`supervisor.py`), so that they use the machine's cores: `tally api`, `tally
fulfil` and `tally project`. A role that exits is logged and started again. The API's
/metrics also serves the other roles' samples (labelled `role`, read from their metrics
ports on loopback) and its /ready the payment breaker that fulfilment publishes. Ctrl-C
stops the roles first, then the embedded servers."""

import asyncio
import contextlib
import logging
import os
from pathlib import Path

from tally.bootstrap import bootstrap
from tally.embedded.ports import free_port
from tally.redaction import mask_url
from tally.roles.lifecycle import install_stop_signals
from tally.roles.migrate import migrate
from tally.roles.supervisor import Child, Supervisor
from tally.roles.up_servers import api_url, banner, start_servers
from tally.settings import Settings
from tally.up_env import env_file_of

log = logging.getLogger("tally.up")


def prepare_data_dir(settings: Settings) -> Path:
    data_dir = Path(settings.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    return data_dir


async def run_up(settings: Settings) -> None:
    data_dir = await asyncio.to_thread(prepare_data_dir, settings)
    stop = asyncio.Event()
    install_stop_signals(stop)
    with contextlib.ExitStack() as servers:
        settings = await start_servers(settings, data_dir, servers)
        async with bootstrap(settings, name="tally-up") as parts:
            await migrate(parts)
        supervisor = Supervisor(role_children(settings, server_env(settings, data_dir)))
        log.info(
            "tally is up",
            extra={
                "api": api_url(settings),
                "nats": mask_url(settings.nats_url or ""),
                "postgres": mask_url(settings.database_dsn() or ""),
                "env_file": str(env_file_of(settings.data_dir)),
            },
        )
        print(banner(settings), flush=True)
        await supervisor.run(stop)
        log.info("stopping embedded servers")


def server_env(settings: Settings, data_dir: Path) -> dict[str, str]:
    """The servers' URLs (embedded or given) and the data dir, for the role processes'
    environment."""
    env = {"TALLY_DATA_DIR": str(data_dir)}
    if settings.nats_url:
        env["NATS_URL"] = settings.nats_url
    database = settings.database_dsn()
    if database:
        env["DATABASE_URL"] = database
    return env


def role_children(settings: Settings, servers: dict[str, str]) -> list[Child]:
    """The API, fulfilment and the projectors (all projections), each a `tally` process.
    Fulfilment and the projectors serve their metrics on a free loopback port, which the
    API reads at each scrape of its /metrics."""
    env = {**os.environ, **servers}
    metrics_ports = {"fulfil": free_port(), "project": free_port()}
    api_args = ["api", "--host", settings.host, "--port", str(settings.port)]
    api_args.append("--published-breaker")
    for role, port in metrics_ports.items():
        api_args += ["--role-metrics", f"{role}=http://127.0.0.1:{port}/metrics"]
    behind = {"TALLY_HOST": "127.0.0.1"}  # their metrics only; never on the API's address
    return [
        Child("api", api_args, env),
        *(
            Child(role, [role], env | behind | {"TALLY_METRICS_PORT": str(port)})
            for role, port in metrics_ports.items()
        ),
    ]
