"""Settings come from the environment, are validated at start with the variable named, and
are printed with secrets masked."""

import subprocess
import sys
from pathlib import Path

import pytest

from tally.database_url import asyncpg_dsn, sqlalchemy_url
from tally.settings import SettingsError, load_settings

TALLY = str(Path(sys.executable).parent / "tally")


def test_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALLY_PORT", "9000")
    monkeypatch.setenv("NATS_URL", "nats://127.0.0.1:4222, nats://127.0.0.1:4223")
    settings = load_settings()
    assert settings.port == 9000
    assert settings.nats_servers == ["nats://127.0.0.1:4222", "nats://127.0.0.1:4223"]
    assert settings.stream_replicas == 1


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TALLY_PORT", "eighty"),
        ("TALLY_PORT", "70000"),
        ("TALLY_STREAM_REPLICAS", "0"),
        ("TALLY_IDEMPOTENCY_TTL_HOURS", "1"),
        ("TALLY_PAYMENT_FAILURE_RATE", "1.5"),
        ("TALLY_LOG_FORMAT", "xml"),
        ("DATABASE_URL", "mysql://u@h/db"),
        ("DATABASE_URL", "postgresql://u@h"),
    ],
)
def test_a_bad_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert variable in str(error.value)


def test_driver_urls_are_derived_from_the_libpq_uri() -> None:
    tcp = "postgresql://tally:s3cret@db:5432/tally?sslmode=require"
    assert sqlalchemy_url(tcp) == "postgresql+asyncpg://tally:s3cret@db:5432/tally?sslmode=require"
    socket = "postgresql://tally@/tally?host=/var/run/postgresql"
    assert (
        sqlalchemy_url(socket) == "postgresql+asyncpg://tally@/tally?host=%2Fvar%2Frun%2Fpostgresql"
    )
    assert asyncpg_dsn("postgres://u@h/db") == "postgresql://u@h/db"


def test_tally_config_masks_secrets_and_the_cli_refuses_bad_settings() -> None:
    env = {"DATABASE_URL": "postgresql://tally:s3cret@db:5432/tally", "PATH": "/usr/bin:/bin"}
    shown = subprocess.run([TALLY, "config"], env=env, capture_output=True, text=True, check=True)
    assert "database_url=**********" in shown.stdout
    assert "s3cret" not in shown.stdout + shown.stderr
    refused = subprocess.run(
        [TALLY, "config"], env={**env, "TALLY_PORT": "x"}, capture_output=True, text=True
    )
    assert refused.returncode == 2
    assert "TALLY_PORT" in refused.stderr
    assert "Traceback" not in refused.stderr
