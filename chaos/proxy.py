"""A delaying TCP proxy: network delay on loopback without privileges.

Every chunk read from one side is written to the other `delay` seconds later (order kept,
throughput untouched), so a server behind it looks far away. Run as its own process
(`python -m chaos.proxy NAME=LISTEN_PORT:TARGET_PORT ...`) so that it never waits for the
harness's event loop; it reads commands on stdin: `delay NAME SECONDS`, `cut NAME` (close
every connection through NAME), one per line.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any

HOST = "127.0.0.1"


class DelayingProxy:
    def __init__(self, name: str, listen_port: int, target_port: int) -> None:
        self.name, self.listen_port, self.target_port = name, listen_port, target_port
        self.delay = 0.0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, HOST, self.listen_port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self.cut()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def cut(self) -> None:
        """Close every open connection (both sides), as a network failure would."""
        for writer in list(self._writers):
            writer.close()

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(HOST, self.target_port)
        except OSError:
            client_w.close()
            return
        self._writers |= {client_w, server_w}
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await asyncio.gather(self._pump(client_r, server_w), self._pump(server_r, client_w))
        except asyncio.CancelledError:
            client_w.close()  # the proxy is closing: so is the connection
            server_w.close()
        finally:
            self._writers -= {client_w, server_w}
            self._tasks.discard(task)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copies reader -> writer, each chunk held until its due time; closes on EOF."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                if not data:
                    break
                if (wait := due - loop.time()) > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()

        sender = asyncio.create_task(deliver())
        try:
            while data := await reader.read(65536):
                queue.put_nowait((loop.time() + self.delay, data))
        except OSError:
            pass
        finally:
            queue.put_nowait((loop.time() + self.delay, b""))
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await sender
            writer.close()


async def serve(routes: list[str]) -> None:
    proxies: dict[str, DelayingProxy] = {}
    for route in routes:
        name, _, ports = route.partition("=")
        listen, _, target = ports.partition(":")
        proxies[name] = DelayingProxy(name, int(listen), int(target))
        await proxies[name].start()
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        words = line.decode().split()
        if len(words) == 3 and words[0] == "delay" and words[1] in proxies:
            proxies[words[1]].delay = float(words[2])
        elif len(words) == 2 and words[0] == "cut" and words[1] in proxies:
            proxies[words[1]].cut()
    for proxy in proxies.values():  # stdin closed: the harness is gone
        await proxy.close()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):  # SIGINT: the harness stops us
        asyncio.run(serve(sys.argv[1:]))
