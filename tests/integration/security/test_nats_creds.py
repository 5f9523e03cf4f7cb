"""NATS in operator (JWT) mode: a `.creds` file (user JWT + nkey seed) issued by a trusted
account connects; one issued by an account the server does not trust is refused at start."""

import asyncio
import base64
import hashlib
import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nkeys
import pytest

from support.log_ready_nats import LogReadyNats
from tally.nats_auth import nats_auth_options
from tally.nats_connection import NatsRefused, connect_nats
from tally.settings import Settings

pytestmark = pytest.mark.integration
UNLIMITED = {"subs": -1, "data": -1, "payload": -1, "conn": -1, "leaf": -1}
ACCOUNT = {"type": "account", "version": 2, "limits": {**UNLIMITED, "wildcards": True}}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def new_key(prefix: int) -> tuple[bytes, Any, str]:
    seed = nkeys.encode_seed(os.urandom(32), prefix)
    pair = nkeys.from_seed(seed)
    return seed, pair, pair.public_key.decode()


def jwt(signer: Any, subject: str, nats: dict[str, Any]) -> str:
    header = b64(json.dumps({"typ": "JWT", "alg": "ed25519-nkey"}).encode())
    claims: dict[str, Any] = {"iat": int(time.time()), "iss": signer.public_key.decode()}
    claims |= {"sub": subject, "name": subject[:8], "nats": nats}
    claims["jti"] = base64.b32encode(hashlib.sha256(json.dumps(claims).encode()).digest())
    claims["jti"] = claims["jti"].decode().rstrip("=")
    payload = b64(json.dumps(claims).encode())
    return f"{header}.{payload}.{b64(signer.sign(f'{header}.{payload}'.encode()))}"


def creds(account: Any, path: Path) -> Path:
    seed, _, user = new_key(nkeys.PREFIX_BYTE_USER)
    claims = {"type": "user", "version": 2, "pub": {}, "sub": {}, "subs": -1, "data": -1}
    path.write_text(
        f"-----BEGIN NATS USER JWT-----\n{jwt(account, user, claims)}\n"
        "------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n"
        f"{seed.decode()}\n------END USER NKEY SEED------\n"
    )
    return path


@pytest.fixture
async def operator_mode(tmp_path: Path) -> AsyncIterator[tuple[LogReadyNats, Any]]:
    _, operator, operator_key = new_key(nkeys.PREFIX_BYTE_OPERATOR)
    _, account, account_key = new_key(nkeys.PREFIX_BYTE_ACCOUNT)
    _, _, system_key = new_key(nkeys.PREFIX_BYTE_ACCOUNT)
    (tmp_path / "operator.jwt").write_text(
        jwt(operator, operator_key, {"type": "operator", "version": 2})
    )
    config = "\n".join(
        [
            f'operator: "{tmp_path / "operator.jwt"}"',
            "resolver: MEMORY",
            f"system_account: {system_key}",
            "resolver_preload: {",
            f'  {account_key}: "{jwt(operator, account_key, ACCOUNT)}"',
            f'  {system_key}: "{jwt(operator, system_key, ACCOUNT)}"',
            "}",
        ]
    )
    server = LogReadyNats(tmp_path / "nats", extra_config=config)
    await asyncio.to_thread(server.start)
    try:
        yield server, account
    finally:
        await asyncio.to_thread(server.stop)


async def test_a_creds_file_from_a_trusted_account_connects(
    operator_mode: tuple[LogReadyNats, Any], tmp_path: Path
) -> None:
    server, account = operator_mode
    settings = Settings(nats_creds_file=creds(account, tmp_path / "user.creds"))
    nc = await connect_nats(
        [server.url], name="creds", connect_timeout=5, **nats_auth_options(settings)
    )
    assert nc.is_connected
    await nc.close()


async def test_a_creds_file_from_an_unknown_account_is_refused(
    operator_mode: tuple[LogReadyNats, Any], tmp_path: Path
) -> None:
    server, _ = operator_mode
    _, stranger, _ = new_key(nkeys.PREFIX_BYTE_ACCOUNT)
    settings = Settings(nats_creds_file=creds(stranger, tmp_path / "stranger.creds"))
    started = time.monotonic()
    with pytest.raises(NatsRefused, match="refused the credentials"):
        await connect_nats(
            [server.url], name="creds", connect_timeout=20, **nats_auth_options(settings)
        )
    assert time.monotonic() - started < 5
