"""A request head must arrive in time: `TALLY_HEAD_TIMEOUT_SECONDS` (default 10) from the
moment a connection opens, or from the first byte of the next request on a kept-alive
connection, to the end of its headers. Past it the connection gets `408 Request Timeout`
and is closed, before any token check: a connection that sends nothing, or a head one byte
at a time, holds a socket for that long at most.

Server-neutral: `HeadDeadline` is a timer that the HTTP server's protocol starts and
cancels (tally/http/limits.py does it for uvicorn's httptools protocol); a server swap
keeps the rule by calling the same three methods.
"""

import asyncio
from collections.abc import Callable

DEFAULT_SECONDS = 10.0
KEEP_ALIVE_SECONDS = 5  # an idle kept-alive connection is closed after this
BODY = b"request head not received in time"
RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: " + str(len(BODY)).encode() + b"\r\n"
    b"connection: close\r\n\r\n" + BODY
)


class HeadDeadline:
    """Calls `expired` unless cancelled within `seconds` of `start`."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, seconds: float, expired: Callable[[], None]
    ) -> None:
        self._loop = loop
        self._seconds = seconds
        self._expired = expired
        self._timer: asyncio.TimerHandle | None = None

    @property
    def running(self) -> bool:
        return self._timer is not None

    def start(self) -> None:
        """A head begins (a new connection, or the first byte of the next request)."""
        if self._timer is None:
            self._timer = self._loop.call_later(self._seconds, self._fire)

    def cancel(self) -> None:
        """The head is complete (or the connection gone)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self) -> None:
        self._timer = None
        self._expired()
