"""Messages of raw subscriptions taken straight off nats-py's protocol parser, as bytes.

nats-py turns every message into a `Msg`: it parses the header block with a generic
parser, decodes subject and reply, queues the `Msg` and wakes a task that awaits the
callback. The write side's own subscriptions (the wire's reply inbox, the fulfilment
consumer's deliveries) skip all that: the client's `_process_msg` is wrapped once per
connection and hands their messages to a plain function as the parser left them (subject,
reply, header block, body); other subscriptions are untouched. nats-py keeps connecting,
authentication, reconnecting and re-subscribing (a subscription keeps its id).

The hook is nats-py 2.16's internal `_process_msg`; `tests/integration/commands/
test_jetstream_wire.py` runs it against a real server so that an upgrade that moves it
fails loudly. (`projections/wire.py` has the read side's twin of it: the sides do not
import each other.)
"""

import logging
from collections.abc import Callable
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.subscription import Subscription

log = logging.getLogger(__name__)
_HOOK = "_tally_write_inbox"
Route = Callable[[bytes, bytes, bytes | None, bytes], None]
"""(subject, reply, header block or None, body) of one message of a raw subscription."""


def routes_of(nc: NATS) -> dict[int, Route]:
    """The connection's table of raw routes by subscription id, installed once: the
    client's message handler is wrapped, messages of other subscriptions pass through."""
    table: dict[int, Route] | None = getattr(nc, _HOOK, None)
    if table is not None:
        return table
    routes: dict[int, Route] = {}
    original = nc._process_msg

    async def process_msg(
        sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes | None
    ) -> None:  # nats-py annotates `headers` as bytes and passes None when there are none
        route = routes.get(sid)
        if route is None:
            await original(sid, subject, reply, data, headers)  # type: ignore[arg-type]
            return
        try:
            route(subject, reply, headers, data)
        except Exception:  # never into nats-py's read loop, which would reconnect
            log.exception("a raw message could not be handled")

    nc._process_msg = process_msg  # type: ignore[method-assign]
    setattr(nc, _HOOK, routes)
    return routes


class RawInbox:
    """An inbox subscription of its own whose messages go to `route` as bytes, without
    nats-py's `Msg`: for a pull consumer's deliveries, which arrive under their own
    subjects; or the wire's reply inbox (`subject`: a wildcard under an inbox)."""

    def __init__(self, nc: NATS, route: Route, *, subject: str | None = None) -> None:
        self._nc = nc
        self._route = route
        self.subject = subject or nc.new_inbox()
        self._subscription: Subscription | None = None

    async def start(self) -> None:
        async def never(msg: Any) -> None:  # pragma: no cover - the route takes them all
            pass

        self._subscription = await self._nc.subscribe(self.subject, cb=never)
        routes_of(self._nc)[self._subscription._id] = self._route

    async def close(self) -> None:
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            routes_of(self._nc).pop(subscription._id, None)
            if not self._nc.is_closed:
                await subscription.unsubscribe()


def parse_headers(block: bytes | None) -> dict[str, str]:
    """A header block (`NATS/1.0[ status description]\\r\\nName: value\\r\\n…\\r\\n`) as
    nats-py reads it: an inline status as `Status` and `Description`."""
    headers: dict[str, str] = {}
    if not block:
        return headers
    first, _, rest = block.decode("utf-8", "replace").partition("\r\n")
    if first.startswith("NATS/1.0 "):
        status, _, description = first[9:].strip().partition(" ")
        if status.isdigit():
            headers["Status"] = status
        if description:
            headers["Description"] = description
    for line in rest.split("\r\n"):
        name, colon, value = line.partition(":")
        if colon and name:
            headers[name.strip()] = value.strip()
    return headers


def header_value(block: bytes | None, name: bytes) -> str | None:
    """The value of the header `name` (spelt as written) in a header block, without parsing
    the others (None when it is not there): what a reader that needs one header pays."""
    if not block:
        return None
    key = b"\r\n" + name + b":"
    start = block.find(key)
    if start < 0:
        return None
    start += len(key)
    end = block.find(b"\r\n", start)
    return block[start : end if end >= 0 else len(block)].decode("utf-8", "replace").strip()
