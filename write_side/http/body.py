"""Reading a command's body: size limit, JSON, then the pydantic model."""

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect, Request

from http_edge.problems import Problem, validation_problem

MAX_BODY = 64 * 1024
M = TypeVar("M", bound=BaseModel)


def too_large() -> Problem:
    return Problem(413, "payload-too-large", "Body too large", f"at most {MAX_BODY} bytes")


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise Problem(400, "malformed-request", "Bad Content-Length", declared[:50])
        if int(declared) > limit:
            raise too_large()
    chunks: list[bytes] = []
    size = 0
    while True:  # the ASGI messages themselves: no stream generator a request
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large()
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def parse_json(raw: bytes, *, empty_is: Any = None) -> Any:
    if not raw.strip() and empty_is is not None:
        return empty_is
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise Problem(400, "malformed-json", "The body is not valid JSON", str(error)) from None
    except RecursionError:  # nested deeper than the parser goes: no command is
        raise Problem(
            400, "malformed-json", "The body is not valid JSON", "nested too deeply"
        ) from None


def validate(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise validation_problem(error) from None
