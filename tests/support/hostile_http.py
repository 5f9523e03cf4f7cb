"""Hostile HTTP clients over raw loopback sockets: random bytes, truncated bodies, huge
headers, malformed requests and slowloris-style slow headers and bodies. Each request on
a connection of its own; every wait bounded. What comes back is the status of the
answer's first line, or None when the server closed without one."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random

Kind = str
KINDS: tuple[Kind, ...] = ("random", "truncated", "huge-header", "malformed", "oversized")


def _request(method: str, path: str, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _malformed(rng: random.Random) -> bytes:
    path = rng.choice(["/orders", "/stock/x/receive", "/stock/x/adjust", "/orders/abc/cancel"])
    bodies: list[bytes] = [
        b"{",
        b"[]",
        b"null",
        b'{"customer_id": 5, "lines": "no"}',
        b'{"quantity": 1e309}',
        b'{"quantity": "1"}',
        json.dumps({"customer_id": "c", "lines": [{"sku": "a" * 300}]}).encode(),
        bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))),
        b'{"customer_id": "\\u0000", "lines": []}',
        json.dumps({"delta": -(10**30), "reason": "x"}).encode(),
    ]
    method = rng.choice(["POST", "POST", "PUT", "GET", "DELETE", "PATCH"])
    headers = {"Content-Type": rng.choice(["application/json", "text/plain", "x/\x01"])}
    return _request(method, path, rng.choice(bodies), headers)


def payload(kind: Kind, rng: random.Random) -> tuple[bytes, int]:
    """What to send, and how many bytes of it (the rest is withheld: a truncated body)."""
    if kind == "random":
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 2048)))
        return data, len(data)
    if kind == "truncated":
        body = json.dumps({"customer_id": "c", "lines": [{"sku": "a", "quantity": 1}]})
        data = _request("POST", "/orders", body.encode(), {"Content-Type": "application/json"})
        return data, rng.randrange(1, len(data) - 1)
    if kind == "huge-header":
        data = _request("GET", "/health", b"", {"X-Big": "a" * rng.choice([20_000, 100_000])})
        return data, len(data)
    if kind == "oversized":
        data = _request("POST", "/orders", b"{" + b" " * 70_000 + b"}")
        return data, len(data)
    data = _malformed(rng)
    return data, len(data)


async def send(port: int, data: bytes, upto: int, timeout: float = 5.0) -> int | None:
    """Sends `data[:upto]`, half-closes, reads the answer's status (None: no answer)."""
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(data[:upto])
            await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
            line = await reader.readline()
    except (OSError, TimeoutError):
        return None
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
    parts = line.split()
    return int(parts[1]) if len(parts) >= 2 and line.startswith(b"HTTP/") else None


async def slow(port: int, data: bytes, pause: float, until: float) -> int | None:
    """Slowloris: a few bytes at a time, `pause` s apart, until `until` (loop time)."""
    loop = asyncio.get_running_loop()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return None
    try:
        for start in range(0, len(data), 8):
            if loop.time() > until:
                return None  # gave up, as a slow client does
            writer.write(data[start : start + 8])
            await writer.drain()
            await asyncio.sleep(pause)
        async with asyncio.timeout(5):
            line = await reader.readline()
        parts = line.split()
        return int(parts[1]) if len(parts) >= 2 else None
    except (OSError, TimeoutError):
        return None
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
