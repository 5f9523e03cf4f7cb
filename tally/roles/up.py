"""`tally up`: everything on one machine. Embedded NATS and PostgreSQL (unless NATS_URL /
DATABASE_URL are set), migrations, then every role in one process on one composition
root: one NATS connection, one command service, one breaker, one set of metrics (served
by the API). Ctrl-C stops the roles first, then the root's connections, and the embedded
servers last."""

import asyncio
import contextlib
import logging
from pathlib import Path

from pydantic import SecretStr

from tally.bootstrap import bootstrap
from tally.checks import breaker_check
from tally.embedded.nats_server import EmbeddedNats
from tally.embedded.postgres_server import EmbeddedPostgres
from tally.roles.api import serve_api
from tally.roles.fulfil import fulfil
from tally.roles.lifecycle import install_stop_signals, run_until_stopped
from tally.roles.migrate import migrate
from tally.roles.project import project
from tally.settings import Settings

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
        updates: dict[str, object] = {}
        if not settings.nats_url:
            nats = EmbeddedNats(data_dir / "nats")
            await asyncio.to_thread(nats.start)
            servers.callback(nats.stop)
            updates["nats_url"] = nats.url
            log.info("embedded NATS started", extra={"url": nats.url})
        if settings.database_url is None:
            postgres = EmbeddedPostgres(data_dir / "postgres")
            await asyncio.to_thread(postgres.start)
            servers.callback(postgres.stop)
            url = await asyncio.to_thread(_ensure_database, postgres, "tally")
            updates["database_url"] = SecretStr(url)
            log.info("embedded PostgreSQL started", extra={"port": postgres.port})
        settings = settings.model_copy(update=updates)
        async with bootstrap(settings, name="tally-up") as parts:
            await migrate(parts)
            log.info("tally is up", extra={"api": f"http://{settings.host}:{settings.port}"})
            # /ready reports the breaker of the fulfilment that runs in this process
            parts.checks["payment_breaker"] = breaker_check(parts.breaker())
            await run_until_stopped(
                serve_api(parts, stop), fulfil(parts, stop), project(parts, stop), stop=stop
            )
        log.info("stopping embedded servers")


def _ensure_database(postgres: EmbeddedPostgres, name: str) -> str:
    exists = postgres.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
    if "1" not in exists:
        return postgres.create_database(name)
    return postgres.database_url(name)
