"""Limits on a request's head (request line + headers) for uvicorn's httptools protocol,
which has none of its own (h11 has `h11_max_incomplete_event_size`).

Size: over `max_head_bytes`, or over `max_headers` header lines, the connection is answered
`431 Request Header Fields Too Large` and closed, before the app sees anything. Bytes are
counted as they arrive too, so a head that never ends (sent slowly, or one endless header)
is cut off as soon as it passes the limit rather than buffered without bound.

Time: a head not complete within `head_timeout` seconds is answered `408` and closed
(tally/http/head_timeout.py), so is a connection that never sends one.
"""

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tally.http.head_timeout import DEFAULT_SECONDS, RESPONSE, HeadDeadline

BODY = b"request head too large"


class HeadTooLarge(Exception):
    pass


class LimitedHttpTools(HttpToolsProtocol):
    max_head_bytes = 16 * 1024
    max_headers = 100
    head_timeout = DEFAULT_SECONDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0
        self._header_count = 0
        self._refused = False
        self._deadline = HeadDeadline(self.loop, self.head_timeout, self._too_slow)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline.start()  # a connection that never sends a head is closed too

    def connection_lost(self, exc: Exception | None) -> None:
        self._deadline.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > self.max_head_bytes and not self._refused:
            self._refuse()
        elif self._in_head:
            self._deadline.start()  # the next head on a kept-alive connection has begun

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes, self._header_count = True, 0, 0

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._deadline.cancel()
        super().on_headers_complete()

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self.max_head_bytes or self._header_count > self.max_headers:
            self._refused = True
            raise HeadTooLarge  # httptools stops parsing; uvicorn calls send_400_response

    def send_400_response(self, msg: str) -> None:
        if self._refused:
            self._refuse()
        else:
            super().send_400_response(msg)

    def _too_slow(self) -> None:
        self._refused = True
        if not self.transport.is_closing():
            self.transport.write(RESPONSE)
            self.transport.close()

    def _refuse(self) -> None:
        self._refused = True
        self._deadline.cancel()
        if self.transport.is_closing():
            return
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: text/plain; charset=utf-8\r\n"
            b"content-length: " + str(len(BODY)).encode() + b"\r\n"
            b"connection: close\r\n\r\n" + BODY
        )
        self.transport.close()


def limited_httptools(
    max_head_bytes: int, max_headers: int = 100, head_timeout: float = DEFAULT_SECONDS
) -> type[LimitedHttpTools]:
    """The protocol class to give uvicorn as `http=`, with these limits."""
    return type(
        "LimitedHttpTools",
        (LimitedHttpTools,),
        {
            "max_head_bytes": max_head_bytes,
            "max_headers": max_headers,
            "head_timeout": head_timeout,
        },
    )
