"""NATS with authentication: every role's credentials connect, wrong ones fail at start
with a clear message (no endless reconnect), and each role's user can publish only what
the role needs (tally/nats_permissions.py, the same users as docker/nats/accounts.conf)."""

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import nkeys
import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from support.log_ready_nats import LogReadyNats
from tally.embedded.nats_server import EmbeddedNats
from tally.nats_auth import nats_auth_options
from tally.nats_connection import NatsRefused, connect_nats
from tally.nats_permissions import users_block
from tally.roles.migrate import migrate_streams
from tally.settings import Settings

pytestmark = pytest.mark.integration
ROLES = ("api", "projector", "fulfil", "admin")
PASSWORDS = {role: f"{role}-pass-{uuid.uuid4().hex[:8]}" for role in ROLES}
TALLY = str(Path(sys.executable).parent / "tally")


def secured_server(store: Path, extra_users: str = "") -> EmbeddedNats:
    block = users_block(PASSWORDS)
    if extra_users:
        block = block.replace("    users = [", "    users = [\n" + extra_users, 1)
    return EmbeddedNats(
        store,
        extra_config="authorization {\n" + block + "\n}",
        probe_credentials=("admin", PASSWORDS["admin"]),
    )


@pytest.fixture
async def secured(tmp_path: Path) -> AsyncIterator[EmbeddedNats]:
    server = secured_server(tmp_path / "nats")
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


async def connect_as(server: EmbeddedNats, role: str, password: str | None = None) -> NATS:
    settings = Settings(nats_user=role, nats_password=password or PASSWORDS[role])
    return await connect_nats(
        [server.url], name=f"test-{role}", connect_timeout=5, **nats_auth_options(settings)
    )


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_connects_with_its_credentials(secured: EmbeddedNats, role: str) -> None:
    nc = await connect_as(secured, role)
    assert nc.is_connected
    await nc.close()


async def test_wrong_credentials_fail_at_once_with_a_clear_message(
    secured: EmbeddedNats,
) -> None:
    started = time.monotonic()
    with pytest.raises(NatsRefused) as refused:
        await connect_as(secured, "api", password="wrong-password")
    assert time.monotonic() - started < 3  # not retried until connect_timeout
    assert "refused the credentials" in str(refused.value)
    assert "wrong-password" not in str(refused.value)
    with pytest.raises(NatsRefused):  # anonymous
        await connect_nats([secured.url], name="anonymous", connect_timeout=5)


async def test_the_cli_names_the_problem_and_exits(secured: EmbeddedNats) -> None:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "NATS_URL": secured.url,
        "TALLY_NATS_USER": "admin",
        "TALLY_NATS_PASSWORD": "not-the-password",
        "TALLY_NATS_CONNECT_TIMEOUT": "300",
    }
    started = time.monotonic()
    run = await asyncio.to_thread(
        subprocess.run, [TALLY, "migrate"], env=env, capture_output=True, text=True, timeout=400
    )
    assert run.returncode == 1
    # not after a retry loop of TALLY_NATS_CONNECT_TIMEOUT; the margin is for a loaded
    # machine, where starting the CLI alone took 27 s in a full suite (15 s failed there)
    assert time.monotonic() - started < 150
    assert "refused the credentials" in run.stderr and "Traceback" not in run.stderr
    assert "not-the-password" not in run.stdout + run.stderr


async def test_a_projector_user_cannot_publish_a_command_subject(secured: EmbeddedNats) -> None:
    admin = await connect_as(secured, "admin")
    await migrate_streams(admin, Settings())
    projector, api = await connect_as(secured, "projector"), await connect_as(secured, "api")
    try:
        subject = f"orders.{uuid.uuid4()}"
        with pytest.raises(nats.errors.Error):  # denied: no stream ever answers
            await projector.jetstream().publish(subject, b"{}", timeout=1)
        with pytest.raises(nats.errors.Error):
            await api.jetstream().publish(f"payments.{uuid.uuid4()}", b"{}", timeout=1)
        with pytest.raises(nats.errors.Error):  # nor delete a stream
            await api.jetstream(timeout=1).delete_stream("ORDERS")
        info = await admin.jetstream().stream_info("ORDERS")
        assert info.state.messages == 0
        ack = await api.jetstream().publish(subject, b"{}", timeout=2)  # the API may
        assert ack.seq == 1
    finally:
        for nc in (projector, api, admin):
            await nc.close()


async def test_an_nkey_seed_file_authenticates(tmp_path: Path) -> None:
    seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
    public = nkeys.from_seed(seed).public_key.decode()
    (tmp_path / "user.nk").write_bytes(seed + b"\n")
    server = secured_server(tmp_path / "nats", extra_users=f"      {{ nkey: {public} }}")
    await asyncio.to_thread(server.start)
    try:
        settings = Settings(nats_nkey_seed_file=tmp_path / "user.nk")
        nc = await connect_nats(
            [server.url], name="nkey", connect_timeout=5, **nats_auth_options(settings)
        )
        assert nc.is_connected
        await nc.close()
    finally:
        await asyncio.to_thread(server.stop)


async def test_a_token_authenticates(tmp_path: Path) -> None:
    server = LogReadyNats(tmp_path / "nats", extra_config='authorization { token: "t0ken-s3cret" }')
    await asyncio.to_thread(server.start)
    try:
        right = Settings(nats_token="t0ken-s3cret")
        nc = await connect_nats(
            [server.url], name="token", connect_timeout=5, **nats_auth_options(right)
        )
        assert nc.is_connected
        await nc.close()
        with pytest.raises(NatsRefused, match="refused the credentials"):
            wrong = Settings(nats_token="guess")
            await connect_nats(
                [server.url], name="token", connect_timeout=20, **nats_auth_options(wrong)
            )
    finally:
        await asyncio.to_thread(server.stop)


async def test_a_role_cannot_read_another_roles_replies(secured: EmbeddedNats) -> None:
    admin = await connect_as(secured, "admin")
    await migrate_streams(admin, Settings())
    projector, api = await connect_as(secured, "projector"), await connect_as(secured, "api")
    overheard: list[bytes] = []

    async def listen(msg: Msg) -> None:
        overheard.append(msg.data)

    try:
        await projector.subscribe("_INBOX_api.>", cb=listen)  # refused by the server
        await projector.subscribe("_INBOX.>", cb=listen)
        await projector.flush()
        await api.jetstream().publish(f"orders.{uuid.uuid4()}", b"{}", timeout=2)
        await api.jetstream().stream_info("ORDERS")
        await asyncio.sleep(0.2)
        assert overheard == []
    finally:
        for nc in (projector, api, admin):
            await nc.close()
