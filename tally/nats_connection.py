"""Connecting to NATS: retried with exponential backoff and jitter at start, reconnecting
for ever once connected, every wait bounded, failures logged once, not as tracebacks.
The JetStream requests a role makes as it starts are retried the same way."""

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import nats
from nats.aio.client import Client as NATS
from nats.js.errors import ServiceUnavailableError
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    retry_if_not_exception_type,
    stop_after_delay,
)
from tenacity import wait_random_exponential as backoff

from tally.connect_errors import cause
from tally.redaction import mask_url

log = logging.getLogger("tally.nats")
T = TypeVar("T")
# JetStream cannot answer for now: a node down, a stream leader being elected
_NOT_NOW = (
    TimeoutError,
    nats.errors.TimeoutError,
    nats.errors.NoRespondersError,
    nats.errors.ConnectionReconnectingError,
    ServiceUnavailableError,
)


class NatsUnavailable(Exception):
    pass


class NatsRefused(NatsUnavailable):
    """The server refused our credentials or TLS: retrying cannot help, so fail at once."""


def _refusal(error: BaseException | None) -> str | None:
    if error is None:
        return None
    text = str(error) or type(error).__name__
    if isinstance(error, nats.errors.AuthorizationError) or any(
        word in text.lower() for word in ("authorization violation", "authentication")
    ):
        return f"the server refused the credentials ({text})"
    if isinstance(error, ssl.SSLError):
        return f"TLS failed ({text})"
    return None


async def _connect_once(refusal: asyncio.Event, nc: NATS, **options: Any) -> NATS:
    """One nats-py connect, cut short as soon as the server refuses us: nats-py may
    otherwise wait for ever (seen with a server certificate that fails verification)."""
    connecting = asyncio.ensure_future(nc.connect(**options))
    refused = asyncio.ensure_future(refusal.wait())
    try:
        await asyncio.wait({connecting, refused}, return_when=asyncio.FIRST_COMPLETED)
        if connecting.done():
            connecting.result()  # its error, if it failed
            return nc
        raise nats.errors.Error("refused")
    finally:
        refused.cancel()
        if not connecting.done():  # refused, or our caller gave up (cancelled)
            connecting.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await connecting
            with contextlib.suppress(Exception):
                await nc.close()


async def connect_nats(
    servers: list[str], *, name: str, connect_timeout: float = 30.0, **options: object
) -> NATS:
    """Connected to one of `servers` within `connect_timeout` seconds, else NatsUnavailable
    (NatsRefused at once when the server refuses the credentials or TLS) naming the URLs,
    passwords masked, and the cause. The failed attempts before are logged at debug level
    only: the caller says it once."""
    refused: list[str] = []
    seen: list[BaseException] = []
    refusal = asyncio.Event()
    shown = ", ".join(mask_url(server) for server in servers)  # user:password@ masked
    client: list[NATS] = []

    async def error_cb(error: Exception) -> None:
        if (reason := _refusal(error)) is not None:
            refused[:] = [reason]
            refusal.set()
        seen[:] = [error]
        connected = bool(client) and client[0].is_connected
        log.log(
            logging.WARNING if connected else logging.DEBUG,
            "nats error: %s",
            mask_url(str(error) or type(error).__name__),
        )

    async def disconnected_cb() -> None:
        if client and client[0].is_closed:  # our own close or drain: nothing went wrong
            log.debug("nats connection closed")
        else:
            log.warning("nats disconnected")

    async def reconnected_cb() -> None:
        log.info("nats reconnected")

    retrying = AsyncRetrying(
        retry=retry_if_exception_type((OSError, TimeoutError, nats.errors.Error))
        & retry_if_not_exception_type((NatsRefused, ssl.SSLError)),
        wait=backoff(multiplier=0.2, max=3.0),
        reraise=True,
    )
    try:
        async with asyncio.timeout(connect_timeout):
            async for attempt in retrying:
                with attempt:
                    refused.clear()
                    refusal.clear()
                    client[:] = [NATS()]
                    try:
                        nc = await _connect_once(
                            refusal,
                            client[0],
                            servers=servers,
                            name=name,
                            connect_timeout=min(2.0, connect_timeout),
                            reconnect_time_wait=0.5,
                            max_reconnect_attempts=1,
                            ping_interval=10,
                            max_outstanding_pings=3,
                            error_cb=error_cb,
                            disconnected_cb=disconnected_cb,
                            reconnected_cb=reconnected_cb,
                            **options,
                        )
                    except (OSError, TimeoutError, nats.errors.Error) as error:
                        reason = refused[-1] if refused else _refusal(error)
                        if reason is None:
                            raise
                        raise NatsRefused(
                            f"cannot connect to NATS at {shown}: {reason}; "
                            "check the TALLY_NATS_* credentials and TLS settings"
                        ) from error
    except (OSError, TimeoutError, nats.errors.Error) as error:
        why = cause(seen[-1] if seen else error)
        raise NatsUnavailable(f"cannot connect to NATS at {shown}: {why}") from error
    # Connected: from now on, reconnect for as long as the process lives. nats-py reads
    # this option at every reconnect; the initial attempts above were bounded instead.
    nc.options["max_reconnect_attempts"] = -1
    return nc


async def at_start(what: str, request: Callable[[], Awaitable[T]], *, timeout: float) -> T:
    """A JetStream request a role makes as it starts (binding a key-value bucket), retried
    with backoff for up to `timeout` seconds (TALLY_NATS_CONNECT_TIMEOUT) while JetStream
    cannot answer: a role restarted during a leader election must wait, not exit (found
    by the chaos run). A missing bucket or stream is not retried: `tally migrate` makes
    them."""
    retrying = AsyncRetrying(
        retry=retry_if_exception_type(_NOT_NOW),
        wait=backoff(multiplier=0.2, max=3.0),
        stop=stop_after_delay(timeout),
        reraise=True,
        before_sleep=lambda state: log.warning(
            "%s: JetStream cannot answer yet (%r), retrying",
            what,
            state.outcome.exception() if state.outcome else None,
        ),
    )
    async for attempt in retrying:
        with attempt:
            return await request()
    raise AssertionError("unreachable")  # reraise=True: the last error is raised
