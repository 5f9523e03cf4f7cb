"""The correlation-id rule: a request's `X-Correlation-ID` is kept when it is 1-200
printable characters, otherwise one is made; every event the request causes carries it
and the answer returns it. The middleware that applies it lives with the app."""

from starlette.requests import Request
from starlette.types import Scope

from events.ids import random_uuid_text

HEADER = "X-Correlation-ID"
MAX_LENGTH = 200


def is_valid(value: str) -> bool:
    return 0 < len(value) <= MAX_LENGTH and value.isprintable()


def new_correlation_id() -> str:
    """A random (version 4) UUID's text, as `str(uuid.uuid4())` makes it, in a fraction of
    its time (`events.ids`): one is made for every request that brings none."""
    return random_uuid_text()


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
