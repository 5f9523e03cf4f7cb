"""`Idempotency-Key` on commands: the first answer is kept and replayed for the same body."""

import hashlib
import json
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from write_side.errors import WriteSideError
from write_side.http.problems import HttpProblem, from_write_side_error
from write_side.idempotency import IdempotencyStore, StoredAnswer

MAX_KEY = 255
REPLAYED_HEADERS = ("content-type", "location")


def request_key(request: Request) -> str | None:
    """The request's Idempotency-Key, validated; None when absent."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_KEY or not key.isprintable():
        raise HttpProblem(
            422,
            "validation-failed",
            "The request is not valid",
            "invalid Idempotency-Key",
            errors=[
                {
                    "field": "Idempotency-Key",
                    "pointer": "#/headers/Idempotency-Key",
                    "message": f"1 to {MAX_KEY} printable characters",
                }
            ],
        )
    return key


def fingerprint(raw: bytes) -> str:
    """Bodies that mean the same JSON have the same fingerprint, whatever their spacing."""
    try:
        canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = raw
    return hashlib.sha256(canonical).hexdigest()


class IdempotentCommands:
    def __init__(self, store: IdempotencyStore) -> None:
        self._store = store

    async def run(
        self, request: Request, key: str, raw: bytes, handler: Callable[[], Awaitable[Response]]
    ) -> Response:
        kv_key = self._store.kv_key(f"{request.method} {request.url.path}", key)
        body_print = fingerprint(raw)
        try:
            stored = await self._store.begin(kv_key, body_print)
        except WriteSideError as error:
            return from_write_side_error(error).response()
        if stored is not None:
            headers = {**stored.headers, "Idempotent-Replayed": "true"}
            return Response(stored.body, status_code=stored.status, headers=headers)
        try:
            response = await handler()
        except BaseException:
            await self._store.abandon(kv_key)
            raise
        if response.status_code >= 500:
            await self._store.abandon(kv_key)
            return response
        headers = {
            name: value for name, value in response.headers.items() if name in REPLAYED_HEADERS
        }
        answer = StoredAnswer(
            status=response.status_code, body=bytes(response.body), headers=headers
        )
        try:
            await self._store.complete(kv_key, body_print, answer)
        except WriteSideError as error:
            return from_write_side_error(error).response()
        return response
