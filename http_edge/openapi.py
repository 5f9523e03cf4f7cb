"""The pieces of the OpenAPI document that every route uses: the Problem schema and the
problem answers, JSON answers of pydantic models, query parameters generated from the
pydantic model that validates them, and the correlation-id header."""

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from http_edge import correlation
from http_edge.problems import PROBLEM_JSON

REF_TEMPLATE = "#/components/schemas/{model}"
PROBLEM_REF = {"$ref": REF_TEMPLATE.format(model="Problem")}
Mode = Literal["validation", "serialization"]
Schema = dict[str, Any]

PROBLEM_SCHEMA: Schema = {
    "type": "object",
    "description": "RFC 9457 problem details; `type` is `/problems/<code>`, served by the API",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri-reference"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {
                    "field": {"type": "string"},
                    "pointer": {"type": "string"},
                    "message": {"type": "string"},
                    "code": {"type": "string"},
                },
            },
        },
    },
}

CORRELATION_HEADER: Schema = {
    "name": correlation.HEADER,
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": f"Carried by every event this request causes and returned on the answer; "
    f"a value that is not 1-{correlation.MAX_LENGTH} printable characters is replaced by "
    "a new id, as is a missing one",
}


def problem_answer(description: str) -> Schema:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}}}


def json_answer(description: str, schema: Schema) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def model_schemas(
    models: Iterable[tuple[type[BaseModel], Mode]],
) -> tuple[dict[tuple[type[BaseModel], Mode], Schema], Schema]:
    """({(model, mode): reference}, component schemas) of these models."""
    chosen = sorted(set(models), key=lambda item: (item[0].__name__, item[1]))
    refs, definitions = models_json_schema(chosen, ref_template=REF_TEMPLATE)
    return {item: refs[item] for item in chosen}, definitions.get("$defs", {})


def _without_null(schema: Schema) -> Schema:
    """A query parameter is absent or a string; `null` is not something it can be."""
    schema = {k: v for k, v in schema.items() if k not in ("description", "default")}
    options = [option for option in schema.pop("anyOf", []) if option != {"type": "null"}]
    if len(options) == 1:
        schema.update(options[0])
    elif options:
        schema["anyOf"] = options
    return schema


def query_parameters(
    model: type[BaseModel], overrides: Mapping[str, Schema] | None = None
) -> list[Schema]:
    """One optional query parameter per field of `model`; `overrides` narrow a field's
    schema where the route accepts less than the model (e.g. the positions of one stream)."""
    properties = model.model_json_schema()["properties"]
    return [
        {
            "name": name,
            "in": "query",
            "required": False,
            "description": field.description or "",
            "schema": (overrides or {}).get(name) or _without_null(properties[name]),
        }
        for name, field in model.model_fields.items()
    ]
