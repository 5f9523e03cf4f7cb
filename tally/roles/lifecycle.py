"""Running roles until asked to stop: one stop event set by SIGINT/SIGTERM, shared by every
role in the process, so `tally up` stops all of them together and cleanly."""

import asyncio
import contextlib
import signal
import socket
from collections.abc import Coroutine, Generator
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from tally.http.head_timeout import KEEP_ALIVE_SECONDS
from tally.http.limits import limited_httptools
from tally.http.proxies import proxy_options
from tally.settings import Settings
from tally.stop_signals import take_early_stop


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the process-wide stop event rules."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def install_stop_signals(stop: asyncio.Event) -> None:
    """SIGINT/SIGTERM set `stop`; one that came while the command was starting too."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if take_early_stop():
        stop.set()


def listening_socket(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    """The API's socket; with `reuse_port`, several processes bind the same port and the
    kernel spreads the connections over them (`tally api --workers N`)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    return sock


async def serve_http(
    app: ASGIApp, settings: Settings, stop: asyncio.Event, *, reuse_port: bool = False
) -> None:
    proxies = proxy_options(settings.trusted_proxies)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="none",
        # 431 over the size limit, 408 past the head timeout (tally/http/limits.py)
        http=limited_httptools(
            settings.max_header_bytes, head_timeout=settings.head_timeout_seconds
        ),
        timeout_keep_alive=max(1, int(min(KEEP_ALIVE_SECONDS, settings.head_timeout_seconds))),
        proxy_headers=proxies.proxy_headers,  # off unless TALLY_TRUSTED_PROXIES
        forwarded_allow_ips=proxies.forwarded_allow_ips,
        access_log=settings.access_log,
        log_config=None,
        timeout_graceful_shutdown=10,
        h11_max_incomplete_event_size=settings.max_header_bytes,
    )
    server = _Server(config)
    sock = listening_socket(settings.host, settings.port, reuse_port=reuse_port)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    stopping.cancel()
    await serving


async def run_until_stopped(*roles: Coroutine[Any, Any, None], stop: asyncio.Event) -> None:
    """Runs the roles together; when one fails, the others are stopped and the error raised."""
    tasks = [asyncio.create_task(role) for role in roles]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            if task.exception() is not None:
                stop.set()
                raise task.exception()  # type: ignore[misc]
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
