"""A command's answer written as bytes is what Starlette's Response of the answer model
sent: the same body bytes and the same headers in the same order."""

from uuid import uuid4

from pydantic import BaseModel
from starlette.responses import Response

from write_side.http import answer, schemas
from write_side.http.answer import Answer


def response(model: BaseModel, headers: dict[str, str] | None = None) -> Response:
    body = model.__pydantic_serializer__.to_json(model)
    return Response(body, status_code=202, media_type="application/json", headers=headers)


def same(ours: Answer, theirs: Response) -> None:
    assert (ours.status_code, ours.body, ours.raw_headers) == (
        theirs.status_code,
        bytes(theirs.body),
        theirs.raw_headers,
    )


def test_the_answers_are_the_models_bytes() -> None:
    order_id = str(uuid4())
    same(
        answer.order_placed(order_id, "ORDERS:42"),
        response(
            schemas.OrderPlacedAnswer(order_id=order_id, position="ORDERS:42"),
            {"Location": f"/orders/{order_id}"},
        ),
    )
    same(
        answer.order_command(order_id, "ORDERS:43"),
        response(schemas.OrderCommandAnswer(order_id=order_id, position="ORDERS:43")),
    )
    for sku in ("SKU-1", "a_b-C", "x" * 64):
        same(
            answer.stock_command(sku, "STOCK:7"),
            response(schemas.StockCommandAnswer(sku=sku, position="STOCK:7")),
        )


def test_a_replayed_answer_has_the_headers_a_response_had() -> None:
    headers = {"content-type": "application/json", "Idempotent-Replayed": "true"}
    same(Answer.of(409, b'{"a":1}', headers), Response(b'{"a":1}', 409, headers=headers))
