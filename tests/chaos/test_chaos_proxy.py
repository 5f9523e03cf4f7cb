"""The delaying proxy of the chaos run: bytes arrive intact and in order, each way late by
at least the delay set, and `cut` closes the connections through it."""

from __future__ import annotations

import asyncio
import time

from chaos.proxy import DelayingProxy
from tally.embedded.ports import free_port


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(4096):
        writer.write(data)
        await writer.drain()
    writer.close()


async def test_the_proxy_delays_each_way_and_keeps_the_bytes() -> None:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    target = server.sockets[0].getsockname()[1]
    proxy = DelayingProxy("echo", free_port(), target)
    await proxy.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.listen_port)
        payload = bytes(range(256)) * 200
        writer.write(payload)
        assert await reader.readexactly(len(payload)) == payload
        proxy.delay = 0.2
        started = time.monotonic()
        writer.write(b"ping")
        assert await reader.readexactly(4) == b"ping"
        assert time.monotonic() - started >= 0.4  # a lower bound: there and back
        proxy.cut()
        assert await asyncio.wait_for(reader.read(), 5) == b""
    finally:
        await proxy.close()
        server.close()
