"""Connecting to NATS: retried with exponential backoff and jitter at start, reconnecting
for ever once connected, every wait bounded, failures logged once, not as tracebacks."""

import logging
import ssl

import nats
from nats.aio.client import Client as NATS
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    retry_if_not_exception_type,
    stop_after_delay,
)
from tenacity import wait_random_exponential as backoff

log = logging.getLogger("tally.nats")


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


async def connect_nats(
    servers: list[str], *, name: str, connect_timeout: float = 30.0, **options: object
) -> NATS:
    refused: list[str] = []

    async def error_cb(error: Exception) -> None:
        if (reason := _refusal(error)) is not None:
            refused.append(reason)
        log.warning("nats error: %s", error or type(error).__name__)

    async def disconnected_cb() -> None:
        log.warning("nats disconnected")

    async def reconnected_cb() -> None:
        log.info("nats reconnected")

    retrying = AsyncRetrying(
        retry=retry_if_exception_type((OSError, TimeoutError, nats.errors.Error))
        & retry_if_not_exception_type((NatsRefused, ssl.SSLError)),
        wait=backoff(multiplier=0.2, max=3.0),
        stop=stop_after_delay(connect_timeout),
        reraise=True,
    )
    try:
        async for attempt in retrying:
            with attempt:
                refused.clear()
                try:
                    nc = await nats.connect(
                        servers=servers,
                        name=name,
                        connect_timeout=2,
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
                        f"cannot connect to NATS at {', '.join(servers)}: {reason}; "
                        "check the TALLY_NATS_* credentials and TLS settings"
                    ) from error
    except (OSError, TimeoutError, nats.errors.Error) as error:
        raise NatsUnavailable(f"cannot connect to NATS at {', '.join(servers)}: {error}") from error
    # Connected: from now on, reconnect for as long as the process lives. nats-py reads
    # this option at every reconnect; the initial attempts above were bounded instead.
    nc.options["max_reconnect_attempts"] = -1
    return nc
