"""The admin routes described for the OpenAPI document (tag `admin`)."""

from typing import Any

from http_edge.openapi import json_answer, problem_answer
from projections.registry import PROJECTIONS
from tally.admin.dead_letter_routes import DEFAULT_LIMIT, MAX_LIMIT, MAX_SEQ, PREFIX
from tally.admin.projection_openapi import projection_paths

UNAVAILABLE = "NATS or PostgreSQL unreachable"
SEQ = {
    "name": "seq",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_SEQ},
    "description": "the dead letter's sequence in the DLQ stream",
}
_ITEM_FIELDS: dict[str, Any] = {
    "seq": {"type": "integer"},
    "projection": {"type": "string"},
    "subject": {"type": "string", "description": "the aggregate's subject"},
    "position": {"type": "string", "examples": ["ORDERS:42"]},
    "type": {"type": ["string", "null"], "description": "the event type"},
    "attempts": {"type": "integer"},
    "error": {"type": "string"},
    "dead_at": {"type": ["string", "null"], "format": "date-time"},
}
DEAD_LETTER = {"type": "object", "required": list(_ITEM_FIELDS), "properties": _ITEM_FIELDS}
DEAD_LETTER_DETAIL = {
    "type": "object",
    "required": [*_ITEM_FIELDS, "data", "headers"],
    "properties": {
        **_ITEM_FIELDS,
        "data": {"type": "string", "description": "the event's payload as text"},
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
OUTCOME = {
    "type": "object",
    "required": ["seq", "outcome"],
    "properties": {
        "seq": {"type": "integer"},
        "outcome": {"type": "string", "enum": ["applied", "dropped"]},
        "projection": {"type": ["string", "null"]},
        "error": {"type": "null"},
    },
}


def _operation(summary: str, ok: dict[str, Any], **errors: str) -> dict[str, Any]:
    responses = {"200": ok, "503": problem_answer(UNAVAILABLE)}
    responses.update({status.lstrip("_"): problem_answer(text) for status, text in errors.items()})
    return {"summary": summary, "tags": ["admin"], "responses": responses}


def openapi_paths() -> tuple[dict[str, Any], dict[str, Any]]:
    """(paths, component schemas) of the admin routes."""
    refs = {name: {"$ref": f"#/components/schemas/{name}"} for name in ("DeadLetter",)}
    page = {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": refs["DeadLetter"]},
            "next_cursor": {"type": ["string", "null"]},
        },
    }
    listing = _operation(
        "The dead letters, in stream order (same fields as `tally dlq list`)",
        json_answer("A page", page),
        _422="Invalid query parameter",
    )
    listing["parameters"] = [
        {"name": "projection", "in": "query", "schema": {"type": "string", "enum": [*PROJECTIONS]}},
        {
            "name": "limit",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
            "description": f"at most this many (default {DEFAULT_LIMIT})",
        },
        {
            "name": "cursor",
            "in": "query",
            "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
            "description": "`next_cursor` of the page before",
        },
    ]
    show = _operation(
        "One dead letter in full: payload, headers, the whole error",
        json_answer("The dead letter", DEAD_LETTER_DETAIL),
        _404="No such dead letter",
    )
    retry = _operation(
        "Apply it to its view again (after a fix); removed when it applies",
        json_answer("Applied and removed", OUTCOME),
        _404="No such dead letter",
        _409="`dead-letter-still-fails`: it stays, `detail` has the new error",
    )
    drop = _operation("Delete it", json_answer("Deleted", OUTCOME), _404="No such dead letter")
    for operation in (show, retry, drop):
        operation["parameters"] = [SEQ]
    paths = {
        PREFIX: {"get": listing},
        PREFIX + "/{seq}": {"get": show},
        PREFIX + "/{seq}/retry": {"post": retry},
        PREFIX + "/{seq}/drop": {"post": drop},
    }
    more, schemas = projection_paths()  # pauses and replays
    return {**paths, **more}, {"DeadLetter": DEAD_LETTER, **schemas}
