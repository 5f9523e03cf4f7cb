"""The correlation-id rule: a request's `X-Correlation-ID` is kept when it is 1-200
printable characters, otherwise one is made; every event the request causes carries it
and the answer returns it. The middleware that applies it lives with the app."""

from uuid import uuid4

from starlette.requests import Request

HEADER = "X-Correlation-ID"
MAX_LENGTH = 200


def is_valid(value: str) -> bool:
    return 0 < len(value) <= MAX_LENGTH and value.isprintable()


def correlation_id_for(given: str) -> str:
    """The id a request with this header value goes by (`""` when it sent none)."""
    return given if is_valid(given) else str(uuid4())


def request_correlation_id(request: Request) -> str:
    """The id the middleware gave the request; from the header where no middleware ran."""
    known = getattr(request.state, "correlation_id", None)
    if isinstance(known, str) and known:
        return known
    return correlation_id_for(request.headers.get(HEADER, ""))
