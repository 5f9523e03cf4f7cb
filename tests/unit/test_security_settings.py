"""Security settings: secrets never printed, bad values named, per-role database URLs,
the command rate limit, the `tally token new` command."""

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tally.http.app import create_api_app
from tally.http.ratelimit import RateLimiter
from tally.http.tokens import TokenTable, digest, parse_tokens
from tally.settings import SettingsError, load_settings

TALLY = str(Path(sys.executable).parent / "tally")
TOKEN = "tally_secret_token_for_settings_tests"
ENTRY = f"sha256:{digest(TOKEN)}=read,write"


def test_tally_config_prints_no_token_digest_or_nats_secret() -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "TALLY_API_TOKENS": ENTRY,
        "TALLY_NATS_PASSWORD": "nats-pass-123",
        "TALLY_NATS_TOKEN": "nats-token-456",
        "TALLY_QUERY_DATABASE_URL": "postgresql://api:dbpass789@db/tally",
    }
    shown = subprocess.run([TALLY, "config"], env=env, capture_output=True, text=True, check=True)
    output = shown.stdout + shown.stderr
    assert "TALLY_API_TOKENS=***" in shown.stdout.splitlines()
    for secret in (digest(TOKEN), "nats-pass-123", "nats-token-456", "dbpass789", TOKEN):
        assert secret not in output


@pytest.mark.parametrize(
    "value", ["sha256:short=read", f"sha256:{digest(TOKEN)}=root", f"{digest(TOKEN)}=read"]
)
def test_a_bad_token_list_is_named_but_not_echoed(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("TALLY_API_TOKENS", value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert "TALLY_API_TOKENS" in str(error.value)
    assert digest(TOKEN) not in str(error.value)


def test_role_database_urls_fall_back_to_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://owner@db/tally")
    settings = load_settings()
    assert settings.query_database_dsn() == settings.projector_database_dsn()
    assert settings.query_database_dsn() == "postgresql://owner@db/tally"
    assert settings.admin_database_dsn() == "postgresql://owner@db/tally"
    monkeypatch.setenv("TALLY_QUERY_DATABASE_URL", "postgresql://api@db/tally")
    monkeypatch.setenv("TALLY_PROJECTOR_DATABASE_URL", "postgresql://projector@db/tally")
    monkeypatch.setenv("TALLY_ADMIN_DATABASE_URL", "postgresql://projector@db/tally")
    settings = load_settings()
    assert settings.query_database_dsn() == "postgresql://api@db/tally"
    assert settings.projector_database_dsn() == "postgresql://projector@db/tally"
    assert settings.admin_database_dsn() == "postgresql://projector@db/tally"
    monkeypatch.setenv("TALLY_ADMIN_DATABASE_URL", "mysql://projector@db/tally")
    with pytest.raises(SettingsError, match="TALLY_ADMIN_DATABASE_URL"):
        load_settings()
    monkeypatch.delenv("TALLY_ADMIN_DATABASE_URL")
    monkeypatch.setenv("TALLY_QUERY_DATABASE_URL", "mysql://api@db/tally")
    with pytest.raises(SettingsError, match="TALLY_QUERY_DATABASE_URL"):
        load_settings()


def test_token_new_prints_a_token_and_its_entry() -> None:
    shown = subprocess.run(
        [TALLY, "token", "new", "--scopes", "read,write"], capture_output=True, text=True
    )
    assert shown.returncode == 0, shown.stderr
    token = shown.stdout.split("shown once): ")[1].split()[0]
    entry = shown.stdout.split("TALLY_API_TOKENS=")[1].strip()
    assert TokenTable(parse_tokens(entry)).scopes(token) == frozenset({"read", "write"})
    refused = subprocess.run([TALLY, "token", "new", "--scopes", "root"], capture_output=True)
    assert refused.returncode == 2


def test_the_bucket_allows_a_burst_then_the_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=2, burst=3, clock=lambda: now[0])
    assert [limiter.take("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.take("a") == pytest.approx(0.5)
    assert limiter.take("b") == 0  # clients are independent
    now[0] += 0.5
    assert limiter.take("a") == 0


def test_the_client_table_is_bounded() -> None:
    limiter = RateLimiter(rate=1, burst=1, max_clients=2, clock=lambda: 0.0)
    for client in ("a", "b", "c"):
        limiter.take(client)
    assert limiter.take("a") == 0  # forgotten, so it starts with a full bucket again
    assert limiter.take("c") > 0


async def ok(request: Request) -> Response:
    return JSONResponse({}, status_code=202 if request.method == "POST" else 200)


@pytest.fixture
async def limited() -> AsyncIterator[httpx.AsyncClient]:
    routes = [Route("/stock/{sku}/receive", ok, methods=["POST"]), Route("/stock", ok)]
    app = create_api_app(routes=routes, checks={}, command_limit=RateLimiter(0.001, 2))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tally") as http:
        yield http


async def test_commands_over_the_limit_are_429_queries_are_not(
    limited: httpx.AsyncClient,
) -> None:
    statuses = [(await limited.post("/stock/A/receive")).status_code for _ in range(3)]
    assert statuses == [202, 202, 429]
    refused = await limited.post("/stock/A/receive")
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith("/rate-limited")
    assert int(refused.headers["retry-after"]) >= 1
    assert (await limited.get("/stock")).status_code == 200
