"""The command routes described for the OpenAPI document, from the same pydantic models
that validate the requests. Problem answers refer to `#/components/schemas/Problem`."""

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from events.subjects import SKU_PATTERN
from write_side.http.schemas import (
    AdjustStockBody,
    CancelOrderBody,
    OrderCommandAnswer,
    OrderPlacedAnswer,
    PlaceOrderBody,
    ReceiveStockBody,
    ShipOrderBody,
    StockCommandAnswer,
)

REF = "#/components/schemas/{model}"
PROBLEM = {"$ref": "#/components/schemas/Problem"}
ERRORS = {
    400: "Malformed JSON",
    404: "Unknown order or SKU",
    409: "Refused by a business rule, or concurrent changes kept conflicting",
    413: "Body over 64 KiB",
    422: "Invalid fields (one entry per field in `errors`), or Idempotency-Key misuse",
    503: "NATS unreachable (answered within 2 s)",
}
HEADERS = [
    {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
        "description": "A repeat with the same key and body returns the first answer (≥ 24 h)",
    },
    {
        "name": "X-Correlation-ID",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "maxLength": 200},
        "description": "Carried by every event this request causes; made when absent",
    },
]
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

ROUTES: list[tuple[str, str, type[BaseModel], type[BaseModel], list[dict[str, Any]]]] = [
    ("/orders", "Place an order", PlaceOrderBody, OrderPlacedAnswer, []),
    (
        "/orders/{order_id}/cancel",
        "Cancel an order",
        CancelOrderBody,
        OrderCommandAnswer,
        [ORDER_ID],
    ),
    (
        "/orders/{order_id}/ship",
        "Ship a confirmed order",
        ShipOrderBody,
        OrderCommandAnswer,
        [ORDER_ID],
    ),
    (
        "/stock/{sku}/receive",
        "Receive stock (creates the SKU)",
        ReceiveStockBody,
        StockCommandAnswer,
        [SKU],
    ),
    ("/stock/{sku}/adjust", "Adjust stock on hand", AdjustStockBody, StockCommandAnswer, [SKU]),
]


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": PROBLEM}},
    }


def openapi_paths() -> tuple[dict[str, Any], dict[str, Any]]:
    """(paths, component schemas) of the command routes."""
    models = [(body, "validation") for _, _, body, _, _ in ROUTES]
    models += [(answer, "serialization") for _, _, _, answer, _ in ROUTES]
    refs, definitions = models_json_schema(models, ref_template=REF)  # type: ignore[arg-type]
    paths: dict[str, Any] = {}
    for path, summary, body, answer, parameters in ROUTES:
        responses: dict[str, Any] = {
            "202": {
                "description": "Accepted: the events are stored; `position` names them",
                "content": {"application/json": {"schema": refs[(answer, "serialization")]}},
            }
        }
        responses.update({str(status): _problem(text) for status, text in ERRORS.items()})
        paths[path] = {
            "post": {
                "summary": summary,
                "tags": ["commands"],
                "operationId": body.__name__.removesuffix("Body"),
                "parameters": [*parameters, *HEADERS],
                "requestBody": {
                    "required": path == "/orders",
                    "content": {"application/json": {"schema": refs[(body, "validation")]}},
                },
                "responses": responses,
            }
        }
    return paths, definitions.get("$defs", {})
