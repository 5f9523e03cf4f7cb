"""A lean HTTP/1.1 client for the soak's load: keep-alive connections over asyncio streams,
one request at a time each, JSON bodies, answers read by Content-Length. httpx costs more
CPU per request than Tally does on a shared 2-core machine, and would measure itself."""

from __future__ import annotations

import asyncio
import json
from typing import Any


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """(status, JSON answer); raises OSError or asyncio.IncompleteReadError when the
        connection fails (it is opened again on the next call)."""
        payload = json.dumps(body).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n"
        ).encode()
        return await self._exchange(head + payload)

    async def get(self, path: str) -> tuple[int, dict[str, Any]]:
        """(status, JSON answer) of `GET path` (path and query, already encoded)."""
        return await self._exchange(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())

    async def _exchange(self, request: bytes) -> tuple[int, dict[str, Any]]:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._streams
        try:
            writer.write(request)
            status_line = await reader.readline()
            length, close = 0, False
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                elif name.lower() == "connection" and "close" in value.lower():
                    close = True
            if not status_line:
                raise ConnectionResetError("closed before answering")
            data = await reader.readexactly(length)
        except BaseException:
            self.close()
            raise
        if close:
            self.close()
        answer = json.loads(data) if data else {}
        return int(status_line.split()[1]), answer if isinstance(answer, dict) else {}

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


class Pool:
    """Connections handed out one request at a time; more are opened as needed."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._idle: list[Connection] = []

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """On a kept-alive connection that the server closed while idle (uvicorn does after
        5 s), nothing was read: the request goes again on a new connection."""
        reused = bool(self._idle)
        connection = self._idle.pop() if reused else Connection(self.host, self.port)
        try:
            answer = await connection.post(path, body)
        except ConnectionResetError:
            if not reused:
                raise
            connection = Connection(self.host, self.port)
            answer = await connection.post(path, body)
        self._idle.append(connection)
        return answer

    def close(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle.clear()
