"""`tally up`: everything on one machine. Embedded NATS and PostgreSQL (unless NATS_URL /
DATABASE_URL are set), migrations, then every role in one process on one composition
root: one NATS connection, one command service, one breaker, one set of metrics (served
by the API). Ctrl-C stops the roles first, then the root's connections, and the embedded
servers last."""

import asyncio
import contextlib
import logging
from pathlib import Path

from tally.bootstrap import bootstrap
from tally.checks import breaker_check
from tally.redaction import mask_url
from tally.roles.api import serve_api
from tally.roles.fulfil import fulfil
from tally.roles.lifecycle import install_stop_signals, run_until_stopped
from tally.roles.migrate import migrate
from tally.roles.project import project
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
            # /ready reports the breaker of the fulfilment that runs in this process
            parts.checks["payment_breaker"] = breaker_check(parts.breaker())
            await run_until_stopped(
                serve_api(parts, stop), fulfil(parts, stop), project(parts, stop), stop=stop
            )
        log.info("stopping embedded servers")
