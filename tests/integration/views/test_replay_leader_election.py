"""`tally replay` started while JetStream cannot answer (a leader election: no responders,
or a timeout) waits for it as the roles do at start, up to its `--timeout`, and says so in
one line if it never answers; it used to die at once on a `nats: timeout` traceback
reading the stream's partitions."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import pytest

from support.plain_nats import without_jetstream
from support.roles import TALLY, migrate, role_env
from tally.embedded import free_port
from tally.embedded.nats_server import EmbeddedNats

pytestmark = pytest.mark.integration


def replay(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [TALLY, "replay", "orders", "--yes", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_until(process: subprocess.Popen[str], text: str) -> str:
    """Its stderr up to the first line holding `text` (all of it if it ends first)."""
    assert process.stderr is not None
    said = ""
    for line in process.stderr:
        said += line
        if text in line:
            break
    return said


async def test_replay_waits_for_jetstream_then_rebuilds(tmp_path: Path, database_url: str) -> None:
    port = free_port()
    env = role_env(f"nats://127.0.0.1:{port}", database_url)
    server = EmbeddedNats(tmp_path / "nats", port=port)
    await asyncio.to_thread(server.start)
    try:
        await asyncio.to_thread(migrate, env)  # streams, consumers and the database
    finally:
        await asyncio.to_thread(server.stop)
    plain = await asyncio.to_thread(without_jetstream, port)
    try:
        waiting = replay(env, "--timeout", "60")
        said = await asyncio.to_thread(read_until, waiting, "JetStream cannot answer yet")
        assert waiting.poll() is None, said  # before: a traceback at once
        plain.terminate()
        plain.wait(10)
        await asyncio.to_thread(server.start)  # the same port and store, with JetStream
        out, err = await asyncio.to_thread(waiting.communicate, timeout=120)
        assert waiting.returncode == 0, said + err
        assert "Traceback" not in said + err
        assert "events replayed" in err + out
    finally:
        plain.kill()
        plain.wait()
        await asyncio.to_thread(server.stop)


async def test_replay_says_in_one_line_that_jetstream_never_answered(database_url: str) -> None:
    port = free_port()
    plain = await asyncio.to_thread(without_jetstream, port)
    try:
        started = time.monotonic()
        failed = replay(role_env(f"nats://127.0.0.1:{port}", database_url), "--timeout", "3")
        _, err = await asyncio.to_thread(failed.communicate, timeout=120)
        elapsed = time.monotonic() - started
    finally:
        plain.kill()
        plain.wait()
    assert failed.returncode == 1, err
    *waited, last = err.splitlines()
    assert last == (
        "tally: JetStream did not answer within 3 s (no responders); the old view is untouched"
    ), err
    assert all("JetStream cannot answer yet" in line for line in waited), err  # warnings
    assert "Traceback" not in err
    assert elapsed < 60  # 3 s of waiting; the rest is starting Python
