"""The servers of `tally up`: the embedded NATS and PostgreSQL (unless `NATS_URL` /
`DATABASE_URL` name others), on the ports of the last start of the same data dir when
those are free, their URLs written to `<data-dir>/env` for the other commands, and the
start banner."""

import asyncio
import contextlib
import logging
from pathlib import Path

from pydantic import SecretStr

from tally.embedded.nats_server import EmbeddedNats
from tally.embedded.ports import port_is_free
from tally.embedded.postgres_server import EmbeddedPostgres
from tally.redaction import mask_url
from tally.settings import Settings
from tally.up_env import env_file_of, kept_port, read_up_env, write_up_env

log = logging.getLogger("tally.up")
DATABASE = "tally"


def _free_kept_port(url: str | None, what: str) -> int | None:
    port = kept_port(url)
    if port is not None and not port_is_free(port):
        log.warning(
            "the port of the last start is taken: %s gets another one", what, extra={"port": port}
        )
        return None
    return port


def api_url(settings: Settings) -> str:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{settings.port}"


async def start_servers(
    settings: Settings, data_dir: Path, servers: contextlib.ExitStack
) -> Settings:
    """Start what `settings` does not name, stopped when `servers` closes; the settings
    with their URLs, also written to `<data-dir>/env`."""
    previous = await asyncio.to_thread(read_up_env, data_dir)
    updates: dict[str, object] = {}
    if not settings.nats_url:
        port = _free_kept_port(previous.nats_url if previous else None, "NATS")
        nats = EmbeddedNats(data_dir / "nats", port=port)
        await asyncio.to_thread(nats.start)
        servers.callback(nats.stop)
        updates["nats_url"] = nats.url
        log.info("embedded NATS started", extra={"url": nats.url})
    if settings.database_url is None:
        port = _free_kept_port(previous.database_url if previous else None, "PostgreSQL")
        postgres = EmbeddedPostgres(data_dir / "postgres", port=port)
        await asyncio.to_thread(postgres.start)
        servers.callback(postgres.stop)
        url = await asyncio.to_thread(_ensure_database, postgres, DATABASE)
        updates["database_url"] = SecretStr(url)
        log.info("embedded PostgreSQL started", extra={"port": postgres.port})
    settings = settings.model_copy(update=updates)
    assert settings.nats_url is not None
    path = await asyncio.to_thread(
        write_up_env,
        data_dir,
        nats_url=settings.nats_url,
        database_url=settings.database_dsn(),
        api_url=api_url(settings),
    )
    log.info("connection settings written", extra={"path": str(path)})
    return settings


def banner(settings: Settings) -> str:
    """What `tally up` prints once it is up: where everything is (passwords masked)."""
    database = settings.database_dsn()
    rows = [
        ("API", f"{api_url(settings)}  (docs /docs, readiness /ready)"),
        ("NATS", mask_url(settings.nats_url or "")),
        ("PostgreSQL", mask_url(database) if database else "(none)"),
        ("settings", f"{env_file_of(settings.data_dir)}  (read by every other tally command)"),
    ]
    lines = ["Tally is up."] + [f"  {name:<11} {value}" for name, value in rows]
    return "\n".join([*lines, "Ctrl-C stops it."])


def _ensure_database(postgres: EmbeddedPostgres, name: str) -> str:
    exists = postgres.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
    if "1" not in exists:
        return postgres.create_database(name)
    return postgres.database_url(name)
