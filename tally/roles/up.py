"""`tally up`: everything on one machine. Embedded NATS and PostgreSQL (unless NATS_URL /
DATABASE_URL are set), migrations, then every role in one process; Ctrl-C stops the roles
first and the embedded servers last."""

import asyncio
import contextlib
import logging
from pathlib import Path

from pydantic import SecretStr

from tally.embedded.nats_server import EmbeddedNats
from tally.embedded.postgres_server import EmbeddedPostgres
from tally.metrics import Metrics
from tally.roles.api import run_api
from tally.roles.fulfil import breaker_check, build_breaker, run_fulfil
from tally.roles.lifecycle import install_stop_signals, run_until_stopped
from tally.roles.migrate import run_migrate
from tally.roles.project import run_projectors
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
        await run_migrate(settings)
        log.info("tally is up", extra={"api": f"http://{settings.host}:{settings.port}"})
        breaker, metrics = build_breaker(settings), Metrics()
        await run_until_stopped(
            run_api(settings, stop, {"payment_breaker": breaker_check(breaker)}, metrics),
            run_fulfil(settings, stop, breaker, metrics),
            run_projectors(settings, stop, metrics=metrics),
            stop=stop,
        )
        log.info("stopping embedded servers")


def _ensure_database(postgres: EmbeddedPostgres, name: str) -> str:
    exists = postgres.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
    if "1" not in exists:
        return postgres.create_database(name)
    return postgres.database_url(name)
