"""A command's answer as the bytes it goes out as, written straight to the ASGI `send`.

Starlette's `Response` made per command a header list through a `Mapping`, lowercased and
encoded each name, and looked for `content-length` and `content-type` in it; the model
answer was a pydantic object serialized once more. A 202 here is its JSON made in one
f-string (the values are a SKU of `[A-Za-z0-9_-]`, a UUID and a `STREAM:seq` position:
nothing in them to escape, and a unit test holds the bytes to what the answer models
serialize to) and the headers `Response` would have sent, in its order.
"""

from collections.abc import Mapping

from starlette.types import Receive, Scope, Send

Headers = list[tuple[bytes, bytes]]
_JSON = (b"content-type", b"application/json")


class Answer:
    """Status, body and raw headers, as ASGI sends them (what the Idempotency-Key store
    keeps is read from these); called as an ASGI app, it sends itself."""

    __slots__ = ("body", "raw_headers", "status_code")

    def __init__(self, status_code: int, body: bytes, raw_headers: Headers) -> None:
        self.status_code = status_code
        self.body = body
        self.raw_headers = raw_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        await send({"type": "http.response.body", "body": self.body})

    @classmethod
    def of(cls, status_code: int, body: bytes, headers: Mapping[str, str]) -> "Answer":
        """`headers` and the body's length, as `Response(body, status, headers=...)`
        sends them (the content type is in `headers`)."""
        raw = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in headers.items()
        ]
        if not any(name == b"content-length" for name, _ in raw):
            raw.append((b"content-length", str(len(body)).encode()))
        return cls(status_code, body, raw)


def _accepted(body: str, location: str | None = None) -> Answer:
    data = body.encode()
    length = (b"content-length", str(len(data)).encode())
    if location is None:
        return Answer(202, data, [length, _JSON])
    return Answer(202, data, [(b"location", location.encode("latin-1")), length, _JSON])


def order_placed(order_id: str, position: str) -> Answer:
    """`OrderPlacedAnswer`, with its Location."""
    body = f'{{"order_id":"{order_id}","status":"pending","position":"{position}"}}'
    return _accepted(body, f"/orders/{order_id}")


def order_command(order_id: str, position: str) -> Answer:
    """`OrderCommandAnswer`."""
    return _accepted(f'{{"order_id":"{order_id}","position":"{position}"}}')


def stock_command(sku: str, position: str) -> Answer:
    """`StockCommandAnswer`."""
    return _accepted(f'{{"sku":"{sku}","position":"{position}"}}')
