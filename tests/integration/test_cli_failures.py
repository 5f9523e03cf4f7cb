"""Fail fast, say it once: an operator command that cannot reach NATS or PostgreSQL says
so in one line (the URL, its password masked, and the cause) within its `--timeout` and
exits 1; a normal close says nothing at warning level; a stop signal is exit 130."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from support.roles import TALLY, role_env
from support.signals import wait_for_handler
from tally.embedded.ports import free_port

pytestmark = pytest.mark.integration


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A loopback port that accepts connections and never says a word (a hung server)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def tally(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TALLY, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_nats_refused_or_silent_is_one_line() -> None:
    closed = f"nats://tally:s3cret@127.0.0.1:{free_port()}"
    refused = tally(role_env(closed), "status")
    assert refused.returncode == 1
    assert refused.stderr == (
        f"tally: cannot connect to NATS at {closed.replace('s3cret', '***')}: connection refused\n"
    )
    with silent_server() as port:
        started = time.monotonic()
        silent = tally(role_env(f"nats://127.0.0.1:{port}"), "dlq", "list", "--timeout", "1")
        elapsed = time.monotonic() - started
    assert silent.returncode == 1
    assert silent.stderr.startswith(f"tally: cannot connect to NATS at nats://127.0.0.1:{port}: ")
    assert len(silent.stderr.splitlines()) == 1, silent.stderr
    assert elapsed < 60  # the connect gave up after 1 s; the rest is starting Python


def test_postgres_refused_is_one_line(nats_url: str) -> None:
    url = f"postgresql://owner:pa55@127.0.0.1:{free_port()}/tally"
    failed = tally(role_env(nats_url, url), "status")
    assert failed.returncode == 1
    assert failed.stderr == (
        f"tally: cannot connect to PostgreSQL at {url.replace('pa55', '***')}: connection refused\n"
    )
    replay = tally(role_env(nats_url, url), "replay", "orders", "--yes")
    assert replay.returncode == 1 and "cannot connect to PostgreSQL" in replay.stderr


def test_a_normal_close_says_nothing_at_warning_level(nats_url: str, database_url: str) -> None:
    assert tally(role_env(nats_url, database_url), "migrate").returncode == 0
    shown = tally(role_env(nats_url, database_url, TALLY_LOG_LEVEL="debug"), "status", "--json")
    assert shown.returncode == 0, shown.stderr
    levels = [json.loads(line)["level"] for line in shown.stderr.splitlines() if line]
    assert "warning" not in levels and "error" not in levels, shown.stderr
    assert "disconnected" not in shown.stderr


@pytest.mark.parametrize("delay", [0.0, 0.3, 0.6, 1.0, 1.5])
def test_an_interrupted_operator_command_exits_130(delay: float) -> None:
    """Whenever the signal lands: while Tally imports (a KeyboardInterrupt inside pydantic's
    model building came out as a SchemaError, exit 1), parses or runs the command."""
    with silent_server() as port:
        env = role_env(f"nats://127.0.0.1:{port}")
        proc = subprocess.Popen(
            [TALLY, "status", "--timeout", "60"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for_handler(proc.pid, signal.SIGTERM)
        time.sleep(delay)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "tally: interrupted"
