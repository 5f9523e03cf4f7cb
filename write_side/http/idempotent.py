"""`Idempotency-Key` on commands: the first answer is kept and replayed for the same body.

Refusals are answers too (a 409 or 422 is replayed like a 202), so the errors of the
handler are turned into their answers here, by the same table the app answers with;
only a failure (5xx, or an error the table does not know) lets the key be used again.
"""

import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.types import Scope

from http_edge.errors import EDGE_ERRORS, ErrorMap
from http_edge.problems import Problem
from write_side.http.answer import Answer
from write_side.http.errors import COMMAND_ERRORS
from write_side.idempotency import IdempotencyStore, StoredAnswer

HEADER = "Idempotency-Key"
MAX_KEY = 255
# 1-255 printable characters, as header values arrive (latin-1): exactly str.isprintable()
KEY_PATTERN = rf"^[\x20-\x7E\xA1-\xAC\xAE-\xFF]{{1,{MAX_KEY}}}$"
_KEY = re.compile(KEY_PATTERN)
REPLAYED_HEADERS = ("content-type", "location")
_REPLAYED = frozenset(name.encode() for name in REPLAYED_HEADERS)
KEY_PARAMETER: dict[str, Any] = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "schema": {"type": "string", "pattern": KEY_PATTERN},
    "description": "A repeat with the same key and body returns the first answer (≥ 24 h)",
}


def request_key(request: Request) -> str | None:
    """The request's Idempotency-Key, validated; None when absent."""
    return valid_key(request.headers.get(HEADER))


def valid_key(key: str | None) -> str | None:
    """An Idempotency-Key header's value, validated; None when absent."""
    if key is None:
        return None
    if not _KEY.fullmatch(key):
        raise Problem(
            422,
            "validation-failed",
            "The request is not valid",
            f"invalid {HEADER}",
            errors=[
                {
                    "field": HEADER,
                    "pointer": f"#/headers/{HEADER}",
                    "message": f"1 to {MAX_KEY} printable characters",
                }
            ],
        )
    return key


def request_client(scope: Scope) -> str | None:
    """The client that sent the request, when API tokens are on (the auth layer names
    it by its token); None when the API is open and clients cannot be told apart."""
    client = scope.get("state", {}).get("client_key")
    return str(client) if client else None


def fingerprint(raw: bytes) -> str:
    """Bodies that mean the same JSON have the same fingerprint, whatever their spacing."""
    try:
        canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError, RecursionError):  # not JSON: the bytes themselves
        canonical = raw
    return hashlib.sha256(canonical).hexdigest()


class IdempotentCommands:
    def __init__(self, store: IdempotencyStore, answers: ErrorMap | None = None) -> None:
        self._store = store
        self._answers = answers or EDGE_ERRORS | COMMAND_ERRORS

    async def run(
        self, scope: Scope, key: str, raw: bytes, handler: Callable[[], Awaitable[Answer]]
    ) -> Answer:
        kv_key = self._store.kv_key(f"{scope['method']} {scope['path']}", key)
        body_print = fingerprint(raw)
        stored = await self._store.begin(kv_key, body_print)
        if stored is not None:
            headers = {**stored.headers, "Idempotent-Replayed": "true"}
            return Answer.of(stored.status, stored.body, headers)
        try:
            response = await self._answer(handler)
        except BaseException:
            await self._store.abandon(kv_key)
            raise
        if response.status_code >= 500:
            await self._store.abandon(kv_key)
            return response
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in response.raw_headers
            if name in _REPLAYED
        }
        answer = StoredAnswer(status=response.status_code, body=response.body, headers=headers)
        await self._store.complete(kv_key, body_print, answer)
        return response

    async def _answer(self, handler: Callable[[], Awaitable[Answer]]) -> Answer:
        try:
            return await handler()
        except Exception as error:
            problem: Problem | None = self._answers.problem(error)
            if problem is None or problem.status >= 500:
                raise  # a failure, not an answer: the app answers it, the key is let go
            refusal = problem.response()
            return Answer(refusal.status_code, bytes(refusal.body), refusal.raw_headers)
