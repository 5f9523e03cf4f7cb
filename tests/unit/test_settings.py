"""Settings come from the environment, are validated at start with the variable named, and
are printed with secrets masked."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tally.database_url import asyncpg_dsn, sqlalchemy_url
from tally.env_file import parse_env
from tally.settings import SettingsError, load_settings, unknown_variables
from write_side.fulfilment.consumer import consumer_config_for

TALLY = str(Path(sys.executable).parent / "tally")


def test_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALLY_PORT", "9000")
    monkeypatch.setenv("NATS_URL", "nats://127.0.0.1:4222, nats://127.0.0.1:4223")
    settings = load_settings()
    assert settings.port == 9000
    assert settings.nats_servers == ["nats://127.0.0.1:4222", "nats://127.0.0.1:4223"]
    assert settings.stream_replicas == 1


def test_fulfilment_holds_256_order_events_and_the_consumer_lets_it() -> None:
    """Fulfilment is bound by round trips per order: 256 in hand, not 64 (issue 15,
    session 11). The durable consumer must let that many go unacknowledged."""
    settings = load_settings()
    assert settings.fulfil_concurrency == 256
    most = load_settings(fulfil_concurrency=10_000).fulfil_concurrency  # its upper bound
    for concurrency in (settings.fulfil_concurrency, most):
        allowed = consumer_config_for(concurrency).max_ack_pending  # what the roles make
        assert allowed is not None and allowed >= concurrency


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


def tally(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "TALLY_DATA_DIR": "/nonexistent/tally"} | env
    return subprocess.run([TALLY, *args], env=env, capture_output=True, text=True, timeout=60)


def test_tally_config_is_a_pasteable_env_file_with_passwords_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = {
        "DATABASE_URL": "postgresql+asyncpg://tally:s3cret@db:5432/tally",
        "NATS_URL": "nats://n1:4222,nats://n2:4222",
        "TALLY_PORT": "9000",
        "TALLY_ACCESS_LOG": "true",
        "TALLY_NATS_PASSWORD": "n4ts",
    }
    shown = tally(env, "config")
    assert shown.returncode == 0, shown.stderr
    assert "s3cret" not in shown.stdout + shown.stderr and "n4ts" not in shown.stdout
    lines = shown.stdout.splitlines()
    # only the password is masked; the driver part is dropped
    assert "DATABASE_URL=postgresql://tally:***@db:5432/tally" in lines
    assert "NATS_URL=nats://n1:4222,nats://n2:4222" in lines
    assert "TALLY_NATS_PASSWORD=***" in lines and "# TALLY_METRICS_PORT=" in lines
    pasted = parse_env(shown.stdout)  # an env file: the values read back as given
    assert pasted["TALLY_PORT"] == "9000" and pasted["TALLY_ACCESS_LOG"] == "true"
    assert "TALLY_METRICS_PORT" not in pasted  # unset stays unset
    for name, value in pasted.items():
        if "***" not in value:  # a masked password must be filled in again
            monkeypatch.setenv(name, value)
    again = load_settings()
    assert again.port == 9000 and again.access_log is True
    assert again.nats_servers == ["nats://n1:4222", "nats://n2:4222"]
    as_json = json.loads(tally(env, "config", "--json").stdout)
    assert as_json["TALLY_PORT"] == 9000 and as_json["TALLY_METRICS_PORT"] is None
    assert as_json["DATABASE_URL"] == "postgresql://tally:***@db:5432/tally"


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("TALLY_PORT", "x", "TALLY_PORT"),
        ("NATS_URL", "http://n1:4222", "NATS_URL: 'http://n1:4222': the scheme must be nats://"),
        ("NATS_URL", "", "NATS_URL is not set"),
        ("DATABASE_URL", "mysql://u@h/db", "DATABASE_URL: must start with postgresql://"),
    ],
)
def test_a_bad_setting_is_exit_2_naming_the_variable_set(
    variable: str, value: str, said: str
) -> None:
    refused = tally({variable: value}, "status")
    assert refused.returncode == 2, refused.stderr
    assert said in refused.stderr and "TALLY_NATS_URL" not in refused.stderr
    assert "Traceback" not in refused.stderr


def test_nats_schemes_and_database_drivers(monkeypatch: pytest.MonkeyPatch) -> None:
    for url in ("nats://a:1", "tls://a:1", "ws://a:1", "wss://a:1", "a:4222"):
        monkeypatch.setenv("NATS_URL", url)
        assert load_settings().nats_servers == [url]
    for url in ("http://a:1", "nats://a:1,https://b:2"):
        monkeypatch.setenv("NATS_URL", url)
        with pytest.raises(SettingsError, match=r"NATS_URL: .* the scheme must be"):
            load_settings()
    monkeypatch.delenv("NATS_URL")
    for driver in ("asyncpg", "psycopg"):
        monkeypatch.setenv("DATABASE_URL", f"postgresql+{driver}://u:p@db:5432/tally")
        assert load_settings().database_dsn() == "postgresql://u:p@db:5432/tally"
    monkeypatch.setenv("DATABASE_URL", "postgresql+pg9000://u@db/tally")
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        load_settings()


def test_unknown_tally_variables_are_warned_about() -> None:
    assert unknown_variables({"TALLY_PORT": "1", "TALLY_FAILPOINTS": "x", "PATH": "/"}) == []
    assert unknown_variables({"TALLY_PROT": "1"}) == [
        "TALLY_PROT is not a Tally setting and is ignored (did you mean TALLY_PORT?)"
    ]
    shown = tally({"TALLY_STALL_SECONDS": "5"}, "config")
    assert shown.returncode == 0
    assert shown.stderr == (
        "tally: warning: TALLY_STALL_SECONDS is not a Tally setting and is ignored "
        "(did you mean TALLY_READY_STALL_SECONDS?)\n"
    )
