"""The query routes described for the OpenAPI document: parameters from the pydantic models
that validate them, answers from read_side/http/schemas.py. Problem answers refer to
`#/components/schemas/Problem`."""

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from events.subjects import SKU_PATTERN
from read_side.http.params import OrderListQuery, ReadYourWrites, StockListQuery
from read_side.http.schemas import (
    EventList,
    OrderList,
    OrderView,
    ProjectionList,
    StockList,
    StockView,
)

REF = "#/components/schemas/{model}"
PROBLEM = {"$ref": "#/components/schemas/Problem"}
ORDER_ID = {
    "name": "order_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}
SKU = {
    "name": "sku",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": SKU_PATTERN},
}
ERRORS = {
    400: "`after` names a position of another stream",
    404: "Unknown order or SKU",
    422: "Invalid query parameter (one entry per parameter in `errors`)",
    503: "PostgreSQL or NATS unreachable, or `projection-lagging` (with Retry-After)",
}

Route = tuple[str, str, type[BaseModel], type[BaseModel], list[dict[str, Any]], set[int]]
ROUTES: list[Route] = [
    ("/orders", "List orders, newest first", OrderListQuery, OrderList, [], {400, 422, 503}),
    (
        "/orders/{order_id}",
        "One order",
        ReadYourWrites,
        OrderView,
        [ORDER_ID],
        {400, 404, 422, 503},
    ),
    (
        "/orders/{order_id}/events",
        "The order's events, read from JetStream",
        ReadYourWrites,
        EventList,
        [ORDER_ID],
        {400, 404, 422, 503},
    ),
    ("/stock", "List stock items by SKU", StockListQuery, StockList, [], {400, 422, 503}),
    ("/stock/{sku}", "One stock item", ReadYourWrites, StockView, [SKU], {400, 404, 422, 503}),
    (
        "/stock/{sku}/events",
        "The stock item's events, read from JetStream",
        ReadYourWrites,
        EventList,
        [SKU],
        {400, 404, 422, 503},
    ),
]


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent or a string; `null` is not something it can be."""
    schema = {k: v for k, v in schema.items() if k not in ("description", "default")}
    options = [option for option in schema.pop("anyOf", []) if option != {"type": "null"}]
    if len(options) == 1:
        schema.update(options[0])
    elif options:
        schema["anyOf"] = options
    return schema


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    properties = model.model_json_schema()["properties"]
    return [
        {
            "name": name,
            "in": "query",
            "required": False,
            "description": field.description or "",
            "schema": _without_null(properties[name]),
        }
        for name, field in model.model_fields.items()
    ]


def openapi_paths() -> tuple[dict[str, Any], dict[str, Any]]:
    """(paths, component schemas) of the query routes."""
    answers = {answer for _, _, _, answer, _, _ in ROUTES} | {ProjectionList}
    refs, definitions = models_json_schema(
        [(model, "serialization") for model in sorted(answers, key=lambda m: m.__name__)],
        ref_template=REF,
    )
    paths: dict[str, Any] = {}
    for path, summary, query, answer, parameters, errors in ROUTES:
        responses: dict[str, Any] = {
            "200": {
                "description": "OK",
                "content": {"application/json": {"schema": refs[(answer, "serialization")]}},
            },
        }
        for status in sorted(errors):
            responses[str(status)] = {
                "description": ERRORS[status],
                "content": {"application/problem+json": {"schema": PROBLEM}},
            }
        paths[path] = {
            "get": {
                "summary": summary,
                "tags": ["queries"],
                "parameters": [*parameters, *query_parameters(query)],
                "responses": responses,
            }
        }
    paths["/projections"] = {
        "get": {
            "summary": "Projections: position, stream end, lag, state",
            "tags": ["operations"],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {
                        "application/json": {"schema": refs[(ProjectionList, "serialization")]}
                    },
                },
                "503": {
                    "description": ERRORS[503],
                    "content": {"application/problem+json": {"schema": PROBLEM}},
                },
            },
        }
    }
    return paths, definitions.get("$defs", {})
