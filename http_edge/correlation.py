"""The correlation-id rule: a request's `X-Correlation-ID` is kept when it is 1-200
printable characters, otherwise one is made; every event the request causes carries it
and the answer returns it. The middleware that applies it lives with the app."""

import os

from starlette.requests import Request
from starlette.types import Scope

HEADER = "X-Correlation-ID"
MAX_LENGTH = 200


def is_valid(value: str) -> bool:
    return 0 < len(value) <= MAX_LENGTH and value.isprintable()


def new_correlation_id() -> str:
    """A random (version 4) UUID's text, as `str(uuid.uuid4())` makes it, in a quarter of
    its time (no UUID object, no int): one is made for every request that brings none."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # RFC 4122 variant
    x = raw.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def correlation_id_for(given: str) -> str:
    """The id a request with this header value goes by (`""` when it sent none)."""
    return given if is_valid(given) else new_correlation_id()


def request_correlation_id(request: Request) -> str:
    """The id the middleware gave the request; from the header where no middleware ran."""
    return scope_correlation_id(request.scope)


def scope_correlation_id(scope: Scope) -> str:
    """`request_correlation_id` for an ASGI scope."""
    known = scope.get("state", {}).get("correlation_id")
    if isinstance(known, str) and known:
        return known
    wanted = HEADER.lower().encode()
    given = next((value for name, value in scope["headers"] if name == wanted), b"")
    return correlation_id_for(given.decode("latin-1"))
