"""The command routes described for the OpenAPI document, from the route table and the
pydantic models that validate the requests. Problem answers refer to the Problem schema."""

from typing import Any

from http_edge.openapi import (
    CORRELATION_HEADER,
    json_answer,
    model_schemas,
    problem_answer,
)
from write_side.http.commands import COMMANDS
from write_side.http.idempotent import KEY_PARAMETER

ERRORS = {
    400: "Malformed JSON",
    404: "Unknown order or SKU",
    409: "Refused by a business rule, or concurrent changes kept conflicting",
    413: "Body over 64 KiB",
    422: "Invalid fields (one entry per field in `errors`), or Idempotency-Key misuse",
    503: "NATS unreachable (answered within 2 s)",
}
ACCEPTED = "Accepted: the events are stored; `position` names them"


def openapi_paths() -> tuple[dict[str, Any], dict[str, Any]]:
    """(paths, component schemas) of the command routes."""
    refs, definitions = model_schemas(
        [(route.body, "validation") for route in COMMANDS]
        + [(route.answer, "serialization") for route in COMMANDS]
    )
    paths: dict[str, Any] = {}
    for route in COMMANDS:
        responses = {"202": json_answer(ACCEPTED, refs[(route.answer, "serialization")])}
        responses.update({str(status): problem_answer(text) for status, text in ERRORS.items()})
        paths[route.path] = {
            "post": {
                "summary": route.summary,
                "tags": ["commands"],
                "operationId": route.operation_id,
                "parameters": [
                    *(parameter.openapi() for parameter in route.parameters),
                    KEY_PARAMETER,
                    CORRELATION_HEADER,
                ],
                "requestBody": {
                    "required": not route.empty_body_is_empty_object,
                    "content": {"application/json": {"schema": refs[(route.body, "validation")]}},
                },
                "responses": responses,
            }
        }
    return paths, definitions
