"""A pull consumer read through an inbox of our own that sends its own pull requests
(`$JS.API.CONSUMER.MSG.NEXT`): several times faster than `fetch()` (see NATS-NOTES), and
its messages bypass nats-py's `Msg` path (`projections.wire`): each is parsed and decoded
once, as it arrives.

Credit is what has been asked for and not yet delivered. Credit and the messages buffered
but not yet taken are topped up to `prefetch` whenever a batch is taken, so the next
messages travel while the last batch is applied, and no more than `prefetch` messages are
ever held here: the server keeps the rest of a backlog. (Topping the credit alone up to
`prefetch` let the buffer grow by a batch whenever the reader was slower than the server:
a 200,000-event catch-up held most of the stream decoded, 260 MB.)
A status message ends a request: its `Nats-Pending-Messages` header returns its credit.
"""

import asyncio
import collections
import contextlib
import json
import logging
import time

from nats.aio.client import Client as NATS

from projections.messages import StoredMessage, from_raw
from projections.wire import RawInbox, status_of

log = logging.getLogger("tally.projections.pull")
EXPIRES = 2.0  # an idle request ends with a 408 after this; silence beyond + 1 s: lost


class ConsumerGone(Exception):
    """The consumer was deleted or the server lost it: the caller re-creates it."""


class PullReader:
    def __init__(
        self, nc: NATS, stream: str, consumer: str, *, prefetch: int, decode: bool = True
    ) -> None:
        self._nc = nc
        self._subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._prefetch = prefetch
        self._decode = decode
        self._buffer: collections.deque[StoredMessage] = collections.deque()
        self._arrived = asyncio.Event()  # set on arrival while a taker waits for it
        self._waiting = False
        self._credit = 0
        self._last_activity = time.monotonic()
        self._gone: str | None = None
        self._inbox = RawInbox(nc, self._on_message)

    async def start(self) -> None:
        await self._inbox.start()

    async def close(self) -> None:
        await self._inbox.close()

    def _on_message(self, subject: bytes, reply: bytes, headers: bytes | None, data: bytes) -> None:
        self._last_activity = time.monotonic()
        status = status_of(headers)
        if status is None:
            self._buffer.append(from_raw(subject, reply, headers, data, decode=self._decode))
            self._credit -= 1
        else:
            self._on_status(*status)
        if self._waiting:  # not an Event.set() per message: most arrive while none waits
            self._arrived.set()

    def _on_status(self, code: str, description: str, headers: dict[str, str]) -> None:
        """A status ends a pull request: 404/408/409 give back its credit (all of it when
        the server does not say how much), 503 means the consumer is not there."""
        if code in ("404", "408", "409"):
            pending = headers.get("Nats-Pending-Messages")
            self._credit -= int(pending) if pending else self._credit
            if code == "409" and "Deleted" in description:
                self._gone = description
        elif code == "503":
            self._credit, self._gone = 0, "no responders for the consumer"

    @property
    def held(self) -> int:
        """Messages asked for and not yet taken: buffered, or still to be delivered."""
        return len(self._buffer) + self._credit

    @property
    def buffered(self) -> int:
        """Messages here, not yet taken."""
        return len(self._buffer)

    async def _top_up(self, beyond: int = 0) -> None:
        """Ask for what brings `held` back to `prefetch` (plus `beyond`), in requests of at
        least half of it."""
        if self._credit > 0 and time.monotonic() - self._last_activity > EXPIRES + 1:
            self._credit = 0  # the server forgot our requests (restart, leader change)
        want = self._prefetch + beyond - self._credit - len(self._buffer)
        if want >= self._prefetch // 2:
            request = {"batch": want, "expires": int(EXPIRES * 1e9)}
            await self._nc.publish(
                self._subject, json.dumps(request).encode(), reply=self._inbox.subject
            )
            self._credit += want
            self._last_activity = time.monotonic()

    async def take(self, limit: int, timeout: float) -> list[StoredMessage]:
        """Up to `limit` buffered messages, waiting up to `timeout` s for the first one."""
        if self._gone:
            raise ConsumerGone(self._gone)
        await self._top_up()
        if not self._buffer:
            self._arrived.clear()
            self._waiting = True
            try:
                async with asyncio.timeout(timeout):
                    while not self._buffer:
                        await self._arrived.wait()
                        self._arrived.clear()
                        if self._gone:
                            raise ConsumerGone(self._gone)
                        await self._top_up()  # an expired request: the next one, now
            except TimeoutError:
                return []
            finally:
                self._waiting = False
        count = min(limit, len(self._buffer))
        taken = [self._buffer.popleft() for _ in range(count)]
        await self._top_up()
        return taken

    def put_back(self, messages: list[StoredMessage]) -> None:
        """Return messages (a held-back atomic batch) to the front of the buffer."""
        self._buffer.extendleft(reversed(messages))

    async def ack_all(self, message: StoredMessage) -> None:
        """AckAll: acknowledges `message` and every message before it."""
        if message.reply:
            await self._nc.publish(message.reply, b"+ACK")

    async def wait_for_more(self, count: int, timeout: float) -> None:
        """Wait up to `timeout` s until more than `count` messages are buffered."""
        await self._top_up(beyond=count)  # the `count` held back wait for more behind them
        self._waiting = True
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    while len(self._buffer) <= count:
                        self._arrived.clear()
                        await self._arrived.wait()
        finally:
            self._waiting = False
