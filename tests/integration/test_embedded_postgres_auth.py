"""The embedded PostgreSQL (`tally up`, the tests) lets no one in without its password:
scram-sha-256 over TCP and over the unix socket, a random superuser password kept beside
the data dir in a file of mode 0600. A password-less superuser on 127.0.0.1 would let any
local user run OS commands as the server's user (`COPY ... TO PROGRAM`)."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import asyncpg
import pytest

from tally.embedded import EmbeddedPostgres
from tally.embedded._pg_install import postgres_bin, prepare_dir, run_as, spawn

pytestmark = pytest.mark.integration


async def refused(url: str) -> bool:
    try:
        conn = await asyncpg.connect(url, timeout=10)
    except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError):
        return True
    await conn.execute("COPY (SELECT 1) TO PROGRAM 'true'")  # what a stranger could do
    await conn.close()
    return False


async def assert_password_required(server: EmbeddedPostgres) -> None:
    tcp = f"postgresql://postgres@{server.host}:{server.port}/postgres"
    socket = f"postgresql://postgres@/postgres?host={server.socket_dir}&port={server.port}"
    assert await refused(tcp), "TCP without a password"
    assert await refused(socket), "unix socket without a password"
    assert await refused(tcp.replace("postgres@", "postgres:guess@", 1)), "a wrong password"
    for url in (server.url, server.socket_url):  # with the password from the file
        conn = await asyncpg.connect(url)
        assert await conn.fetchval("SELECT current_user") == "postgres"
        await conn.close()
    hba = (server.data_dir / "pg_hba.conf").read_text()
    rules = [line.split() for line in hba.splitlines() if line.strip()[:1] not in ("", "#")]
    assert rules and all(rule[-1] == "scram-sha-256" for rule in rules), rules


async def test_every_connection_needs_the_password(postgres_tmp_path: Path) -> None:
    server = EmbeddedPostgres(postgres_tmp_path / "postgres")
    with server:
        password_file = postgres_tmp_path / "postgres.password"
        assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
        assert password_file.read_text().strip() == server.password
        assert len(server.password) >= 32
        await assert_password_required(server)
        assert server.password not in repr(server)
    with server:  # a restart keeps the password
        await assert_password_required(server)


async def test_a_cluster_made_with_trust_gets_a_password_at_start(postgres_tmp_path: Path) -> None:
    """A data dir from before (initdb --auth=trust): its next start closes it."""
    data, owner = postgres_tmp_path / "postgres", run_as()
    prepare_dir(data, owner)
    initdb = [str(postgres_bin() / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]
    done = spawn(initdb, owner, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output, _ = done.communicate(timeout=300)
    assert done.returncode == 0, output
    server = EmbeddedPostgres(data)
    with server:
        await assert_password_required(server)
    with server:
        await assert_password_required(server)
