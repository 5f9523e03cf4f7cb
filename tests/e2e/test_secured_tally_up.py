"""`tally up` with API tokens: scopes hold over real HTTP, and no token (nor its digest)
appears in the process's logs (debug level, access log on), in /metrics or in answers."""

import logging
import stat
from collections.abc import Iterator

import asyncpg
import httpx
import psutil
import pytest

from support.tally_process import RunningTally, running_tally
from tally.embedded.ports import free_port
from tally.http.tokens import digest, new_token
from tally.roles.security import api_auth
from tally.settings import Settings

pytestmark = pytest.mark.e2e
WRITER, WRITER_ENTRY = new_token(["write", "read"])
READER, READER_ENTRY = new_token(["read"])
BOGUS = "tally_bogus_" + digest("bogus")[:20]


@pytest.fixture
def secured(monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningTally]:
    monkeypatch.setenv("TALLY_API_TOKENS", f"{WRITER_ENTRY};{READER_ENTRY}")
    monkeypatch.setenv("TALLY_ACCESS_LOG", "true")
    monkeypatch.setenv("TALLY_LOG_LEVEL", "debug")
    with running_tally(free_port()) as running:
        yield running


def listening_addresses(pid: int) -> set[str]:
    """Where `tally up` and its children (the embedded NATS server) accept connections."""
    process = psutil.Process(pid)
    names = {process.name()}
    addresses: set[str] = set()
    for each in [process, *process.children(recursive=True)]:
        names.add(each.name())
        for conn in each.net_connections(kind="inet"):
            if conn.status == psutil.CONN_LISTEN:
                addresses.add(conn.laddr.ip)
    assert "nats-server" in names and addresses, names
    return addresses


async def postgres_needs_its_password(running: RunningTally) -> str:
    """The embedded PostgreSQL refuses a login without the password kept (mode 0600) in
    the data dir, and takes the one with it; returns the password."""
    password_file = running.data_dir / "postgres.password"
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    password = password_file.read_text().strip()
    url = running.database_url()
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(url.replace(f"postgres:{password}@", "postgres@"))
    conn = await asyncpg.connect(url)
    await conn.close()
    return password


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_tokens_work_and_are_never_printed(secured: RunningTally) -> None:
    seen = ""
    async with httpx.AsyncClient(base_url=secured.base) as http:
        receive = {"quantity": 5}
        assert (await http.post("/stock/S1/receive", json=receive)).status_code == 401
        refused = await http.post("/stock/S1/receive", json=receive, headers=bearer(READER))
        assert refused.status_code == 403
        unknown = await http.post("/stock/S1/receive", json=receive, headers=bearer(BOGUS))
        assert unknown.status_code == 401
        accepted = await http.post("/stock/S1/receive", json=receive, headers=bearer(WRITER))
        assert accepted.status_code == 202, accepted.text
        bad = await http.post("/stock/S.1/receive", json=receive, headers=bearer(WRITER))
        assert bad.status_code == 422
        query = await http.get("/stock/S1", headers=bearer(READER))
        assert query.status_code in (200, 404), query.text
        metrics = await http.get("/metrics")
        assert metrics.status_code == 200
        for answer in (refused, unknown, accepted, bad, query, metrics):
            seen += answer.text + str(answer.headers)
    assert listening_addresses(secured.proc.pid) <= {"127.0.0.1", "::1"}
    assert secured.nats_url().startswith("nats://127.0.0.1:")
    password = await postgres_needs_its_password(secured)
    assert secured.stop() == 0
    log = secured.log.read_text()
    assert password not in log
    assert "API tokens required" in log and "/stock/{sku}/receive" in log
    assert "API is OPEN" not in log
    for secret in (WRITER, READER, BOGUS, digest(WRITER), digest(READER)):
        assert secret not in log
        assert secret not in seen


def test_an_open_api_is_announced_loudly(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="tally.security"):
        assert api_auth(Settings()) is None
    assert "TALLY_API_TOKENS is not set: the API is OPEN" in caplog.text
