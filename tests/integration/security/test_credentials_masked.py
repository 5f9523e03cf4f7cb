"""Credentials in URLs never reach an output: `/ready` reports NATS as host:port only, and
`tally config`, the connect errors (unreachable, refused) and the logs show every URL's
password as `***` (tally/redaction.py, the one function they all use)."""

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from tally.bootstrap import bootstrap
from tally.embedded.nats_server import EmbeddedNats
from tally.embedded.ports import free_port
from tally.roles.api import api_app
from tally.roles.migrate import run_migrate
from tally.settings import Settings

pytestmark = pytest.mark.integration
TALLY = str(Path(sys.executable).parent / "tally")
NATS_SECRET = "n4ts-s3cret"
DB_SECRET = "pg-s3cret"


@pytest.fixture
async def password_nats(tmp_path: Path) -> AsyncIterator[EmbeddedNats]:
    config = f'authorization {{ user: tally, password: "{NATS_SECRET}" }}'
    server = EmbeddedNats(
        tmp_path / "nats", extra_config=config, probe_credentials=("tally", NATS_SECRET)
    )
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


def with_password(server: EmbeddedNats, password: str = NATS_SECRET) -> str:
    return f"nats://tally:{password}@127.0.0.1:{server.port}"


async def test_ready_shows_host_and_port_only(
    password_nats: EmbeddedNats, database_url: str
) -> None:
    settings = Settings(nats_url=with_password(password_nats), database_url=SecretStr(database_url))
    await run_migrate(settings)
    async with bootstrap(settings, name="tally-api") as parts:
        app = await api_app(parts)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tally") as http:
            ready = await http.get("/ready")
    assert ready.json()["checks"]["nats"] == {
        "ok": True,
        "detail": f"127.0.0.1:{password_nats.port}",
    }
    assert NATS_SECRET not in ready.text and "tally:" not in ready.text


def run_tally(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("TALLY_", "NATS_", "DATABASE_"))
    }
    return subprocess.run(
        [TALLY, *args], env=clean | env, capture_output=True, text=True, timeout=60, check=False
    )


def test_tally_config_masks_every_url() -> None:
    shown = run_tally(
        "config",
        NATS_URL=f"nats://tally:{NATS_SECRET}@n1:4222,nats://t0k3n-s3cret@n2:4222",
        DATABASE_URL=f"postgresql://tally:{DB_SECRET}@db:5432/tally",
        TALLY_PROJECTOR_DATABASE_URL=f"postgresql://p@/tally?host=/run&password={DB_SECRET}",
        TALLY_PAYMENT_URL=f"https://shop:{DB_SECRET}@pay.example/authorize",
    )
    assert shown.returncode == 0, shown.stderr
    for secret in (NATS_SECRET, DB_SECRET, "t0k3n-s3cret"):
        assert secret not in shown.stdout + shown.stderr
    assert "NATS_URL=nats://tally:***@n1:4222,nats://***@n2:4222" in shown.stdout
    assert "TALLY_PAYMENT_URL=https://shop:***@pay.example/authorize" in shown.stdout


def test_an_unreachable_server_is_named_without_its_password() -> None:
    url = f"nats://tally:{NATS_SECRET}@127.0.0.1:{free_port()}"
    failed = run_tally("migrate", NATS_URL=url, TALLY_NATS_CONNECT_TIMEOUT="1")
    assert failed.returncode == 1, failed.stderr
    assert "cannot connect to NATS at nats://tally:***@127.0.0.1:" in failed.stderr
    assert NATS_SECRET not in failed.stdout + failed.stderr


def test_refused_credentials_are_named_without_the_password(password_nats: EmbeddedNats) -> None:
    wrong = "wr0ng-s3cret"
    refused = run_tally("migrate", NATS_URL=with_password(password_nats, wrong))
    assert refused.returncode == 1, refused.stderr
    assert "refused the credentials" in refused.stderr
    assert wrong not in refused.stdout + refused.stderr
