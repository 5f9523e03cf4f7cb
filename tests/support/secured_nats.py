"""A NATS server running the generated per-role users (tally/nats_permissions.py), and
settings to connect to it as one of the roles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import SecretStr

from tally.embedded.nats_server import EmbeddedNats
from tally.nats_permissions import accounts_block, users_block
from tally.settings import Settings

PASSWORDS = {role: f"{role}-secret" for role in ("api", "projector", "fulfil", "admin")}
WORKERS = ("api", "projector", "fulfil")


def secured_server(store: Path, shape: str, env: dict[str, str]) -> EmbeddedNats:
    """`shape` "authorization": the users in a plain `authorization` block; "docker-accounts":
    docker/nats/nats.conf's accounts, passwords read from the server's environment (which
    the caller puts into `env`, as compose does)."""
    if shape == "authorization":
        config = "authorization {\n" + users_block(PASSWORDS) + "\n}"
    else:
        config = accounts_block()
        for role, password in [*PASSWORDS.items(), ("sys", "sys-secret")]:
            env[f"NATS_{role.upper()}_PASSWORD"] = password
    return EmbeddedNats(store, extra_config=config, probe_credentials=("admin", PASSWORDS["admin"]))


def settings_for(role: str, nats_url: str, **more: Any) -> Settings:
    return Settings(
        nats_url=nats_url,
        nats_user=role,
        nats_password=SecretStr(PASSWORDS[role]),
        nats_connect_timeout=5,
        **more,
    )
