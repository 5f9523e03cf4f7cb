"""The embedded NATS and PostgreSQL servers, and the fixtures built on them."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import nats
import pytest
from nats.aio.client import Client as NATS
from nats.js.api import StreamConfig

from support.servers import NatsServer, PostgresServer
from tally.embedded import EmbeddedNats, EmbeddedPostgres, ServerStartError

pytestmark = pytest.mark.integration


@asynccontextmanager
async def connected(url: str, reconnected: asyncio.Event | None = None) -> AsyncIterator[NATS]:
    async def quiet(exc: Exception) -> None:
        pass

    async def on_reconnect() -> None:
        if reconnected is not None:
            reconnected.set()

    nc = await nats.connect(
        url,
        connect_timeout=2,
        reconnect_time_wait=0.1,
        max_reconnect_attempts=200,
        error_cb=quiet,
        reconnected_cb=on_reconnect,
    )
    try:
        yield nc
    finally:
        await nc.close()


async def test_nats_starts_with_jetstream(nats_server: NatsServer, nats_url: str) -> None:
    assert nats_url == nats_server.url
    async with connected(nats_url) as nc:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="SMOKE", subjects=["smoke.>"]))
        ack = await js.publish("smoke.a", b"hello")
        assert ack.stream == "SMOKE" and ack.seq == 1
        msg = await js.get_msg("SMOKE", 1)
        assert msg.data == b"hello"


async def test_nats_kill_and_restart_keep_data_and_clients(nats_server: NatsServer) -> None:
    url = nats_server.url
    reconnected = asyncio.Event()
    async with connected(url, reconnected) as nc:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="CRASH", subjects=["crash.>"]))
        ack = await js.publish("crash.a", b"before")

        nats_server.kill()
        await asyncio.to_thread(nats_server.restart)
        assert nats_server.url == url

        await asyncio.wait_for(reconnected.wait(), timeout=10)
        assert (await js.get_msg("CRASH", ack.seq)).data == b"before"
        after = await js.publish("crash.a", b"after")
        assert after.seq == ack.seq + 1


def test_nats_start_failure_shows_log(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = EmbeddedNats(tmp_path, port=taken.getsockname()[1])
        with pytest.raises(ServerStartError, match="address already in use"):
            server.start(timeout=10)
    assert not server.running


def test_nats_store_dir_is_locked(tmp_path: Path) -> None:
    with EmbeddedNats(tmp_path) as first:
        with pytest.raises(ServerStartError, match=r"another nats-server \(pid \d+\)"):
            EmbeddedNats(tmp_path).start()
        first.restart()
        assert first.running


async def test_postgres_data_survives_stop_start_and_kill(postgres_tmp_path: Path) -> None:
    data = postgres_tmp_path / "pg"
    server = EmbeddedPostgres(data, settings={"work_mem": "8MB"})
    with server:
        url = server.create_database("keep")
        conn = await asyncpg.connect(url)
        await conn.execute("CREATE TABLE t (v text); INSERT INTO t VALUES ('one')")
        assert await conn.fetchval("SHOW work_mem") == "8MB"
        await conn.close()

        await asyncio.to_thread(server.restart)
        conn = await asyncpg.connect(url)
        await conn.execute("INSERT INTO t VALUES ('two')")
        await conn.close()

        port = server.port
        server.kill()
        assert (data / "postmaster.pid").exists()  # stale, left by the kill
        await asyncio.to_thread(server.start)
        assert server.port == port
        conn = await asyncpg.connect(url)
        assert await conn.fetchval("SELECT string_agg(v, ',' ORDER BY v) FROM t") == "one,two"
        await conn.close()

        conn = await asyncpg.connect(server.socket_url)  # the unix socket works too
        assert await conn.fetchval("SELECT 1") == 1
        await conn.close()
    assert not server.running


def test_postgres_pidfile_naming_a_live_stranger_does_not_block(postgres_tmp_path: Path) -> None:
    data = postgres_tmp_path / "pg"
    server = EmbeddedPostgres(data)
    with server:
        pass
    (data / "postmaster.pid").write_text(f"{os.getpid()}\n{data}\n")
    with server:
        assert server.running
        with pytest.raises(ServerStartError, match="already runs"):
            EmbeddedPostgres(data).start()


@pytest.mark.parametrize("run", [1, 2])
async def test_database_url_is_fresh_and_isolated(
    database_url: str, postgres_server: PostgresServer, run: int
) -> None:
    assert database_url.startswith("postgresql://")
    assert database_url != postgres_server.url
    conn = await asyncpg.connect(database_url)
    try:
        tables = await conn.fetchval(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        )
        assert tables == 0
        await conn.execute("CREATE TABLE shared_name (id int)")  # would clash if shared
    finally:
        await conn.close()
