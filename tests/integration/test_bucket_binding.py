"""A role binds the key-value buckets `tally migrate` made as it starts (found by the chaos
run: `tally fulfil`, restarted during a NATS leader election, died with `nats: timeout`
binding its status bucket). Until JetStream answers, the composition root keeps trying;
once it does, the bucket is bound and the role goes on."""

import asyncio
import socket
import subprocess
import time
from pathlib import Path

import nats
import pytest

from tally.bootstrap import bootstrap
from tally.embedded import EmbeddedNats, free_port
from tally.embedded.nats_server import find_nats_server
from tally.settings import Settings
from write_side.idempotency import BUCKET, open_bucket

pytestmark = pytest.mark.integration


def listening(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


def without_jetstream(port: int) -> subprocess.Popen[bytes]:
    """NATS without JetStream: every JetStream request has no responders, as in an
    election."""
    plain = subprocess.Popen(
        [str(find_nats_server()), "-a", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    listening(port)
    return plain


async def test_a_bucket_is_bound_once_jetstream_answers(tmp_path: Path) -> None:
    port = free_port()
    plain = await asyncio.to_thread(without_jetstream, port)
    server = EmbeddedNats(tmp_path / "nats", port=port)
    try:
        settings = Settings(nats_url=f"nats://127.0.0.1:{port}", nats_connect_timeout=60)
        async with bootstrap(settings, name="binding") as parts:
            binding = asyncio.create_task(parts.key_value(BUCKET))
            await asyncio.sleep(2)
            assert not binding.done(), binding  # before the fix: NoRespondersError at once
            plain.terminate()
            plain.wait(10)
            await asyncio.to_thread(server.start)  # the same port, with JetStream
            nc = await nats.connect(server.url)
            try:
                await open_bucket(nc.jetstream(), ttl_seconds=3600, replicas=1)
            finally:
                await nc.close()
            kv = await asyncio.wait_for(binding, 60)
            await kv.put("k", b"bound")
            entry = await kv.get("k")
            assert entry is not None and entry.value == b"bound"
    finally:
        plain.kill()
        plain.wait()
        await asyncio.to_thread(server.stop)
