"""Against a real running server (`serve_http`, as `tally api` serves): a request head must
arrive within TALLY_HEAD_TIMEOUT_SECONDS or the connection gets 408 and is closed, idle
kept-alive connections are closed too; and X-Forwarded-For is believed only from the
proxies TALLY_TRUSTED_PROXIES names, so it cannot dodge the per-address rate limit."""

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable

import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tally.embedded.ports import free_port
from tally.http.app import create_api_app
from tally.http.edge import Edge
from tally.http.ratelimit import RateLimiter
from tally.roles.lifecycle import serve_http
from tally.settings import Settings

pytestmark = pytest.mark.integration
Address = tuple[str, int]
SPOOFED = "203.0.113.7"


async def whoami(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.client.host if request.client else "?")


def app() -> Edge:
    routes = [Route("/", whoami, methods=["GET", "POST"])]
    limit = RateLimiter(0.01, 2)  # 2 commands, then 429
    return create_api_app(routes=routes, checks={}, command_limit=limit)


@contextlib.asynccontextmanager
async def serving(**settings: object) -> AsyncIterator[Address]:
    config = Settings(port=free_port(), **settings)  # type: ignore[arg-type]
    stop = asyncio.Event()
    task = asyncio.create_task(serve_http(app(), config, stop))
    for _ in range(200):
        with contextlib.suppress(OSError), socket.create_connection((config.host, config.port)):
            break
        await asyncio.sleep(0.02)
    try:
        yield config.host, config.port
    finally:
        stop.set()
        await task


def read_until_closed(sock: socket.socket, limit: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection; and when it closed."""
    sock.settimeout(limit)
    started, answer = time.monotonic(), b""
    with contextlib.suppress(OSError):
        while part := sock.recv(65536):
            answer += part
    return answer, time.monotonic() - started


def hold(
    address: Address, send: Callable[[socket.socket], None], limit: float = 6
) -> tuple[bytes, float]:
    with socket.create_connection(address) as sock:
        send(sock)
        return read_until_closed(sock, limit)


async def test_a_connection_that_sends_nothing_gets_408(serve_fast: Address) -> None:
    answer, after = await asyncio.to_thread(hold, serve_fast, lambda sock: None)
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert 0.8 < after < 4


async def test_a_head_that_stalls_gets_408(serve_fast: Address) -> None:
    def partial(sock: socket.socket) -> None:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")

    answer, after = await asyncio.to_thread(hold, serve_fast, partial)
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert after < 4


async def test_a_head_trickled_byte_by_byte_gets_408(serve_fast: Address) -> None:
    def trickle(sock: socket.socket) -> None:
        for byte in b"GET / HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 20:
            with contextlib.suppress(OSError):
                sock.send(bytes([byte]))
            time.sleep(0.1)

    answer, _ = await asyncio.to_thread(hold, serve_fast, trickle)
    assert answer.startswith(b"HTTP/1.1 408"), answer


async def test_kept_alive_connections_work_and_idle_ones_are_closed(serve_fast: Address) -> None:
    request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"

    def two_requests_then_idle(sock: socket.socket) -> None:
        sock.sendall(request)
        time.sleep(0.6)  # under the keep-alive timeout: the next request is served
        sock.sendall(request)

    answer, after = await asyncio.to_thread(hold, serve_fast, two_requests_then_idle)
    assert answer.count(b"HTTP/1.1 200") == 2, answer
    assert b"408" not in answer
    assert after < 4  # closed when idle (keep-alive timeout), not held open


@pytest.fixture
async def serve_fast() -> AsyncIterator[Address]:
    async with serving(head_timeout_seconds=1) as address:
        yield address


def post(address: Address, forwarded_for: str) -> bytes:
    head = f"POST / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: {forwarded_for}\r\n"
    head += "Content-Length: 0\r\nConnection: close\r\n\r\n"
    return hold(address, lambda sock: sock.sendall(head.encode()))[0]


async def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted() -> None:
    async with serving() as address:  # by default nobody's proxy headers count
        first = await asyncio.to_thread(post, address, SPOOFED)
        assert first.endswith(b"127.0.0.1"), first
        answers = [await asyncio.to_thread(post, address, f"198.51.100.{n}") for n in range(4)]
        assert [a.split(b" ")[1] for a in answers] == [b"200", b"429", b"429", b"429"]
    async with serving(trusted_proxies="127.0.0.1") as address:  # behind a named proxy
        first = await asyncio.to_thread(post, address, SPOOFED)
        assert first.endswith(SPOOFED.encode()), first
        answers = [await asyncio.to_thread(post, address, f"198.51.100.{n}") for n in range(4)]
        assert [a.split(b" ")[1] for a in answers] == [b"200"] * 4  # one client each
