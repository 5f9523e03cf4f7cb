"""Path parameters, each defined once: how it is parsed, what an invalid value answers,
and what the OpenAPI document says about it, from the same constants.

An order id that is not a UUID names no order (404, as for an unknown one); a SKU outside
`[A-Za-z0-9_-]{1,64}` can never become a subject token, so it is an invalid field (422).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from starlette.requests import Request

from events.subjects import SKU_PATTERN, is_valid_sku, uuid_text
from http_edge.problems import Problem, invalid, not_found

T = TypeVar("T")
SKU_RULE = "1-64 characters of A-Z a-z 0-9 _ -"


@dataclass(frozen=True)
class PathParameter(Generic[T]):
    name: str
    schema: dict[str, Any]
    parse: Callable[[str], T]  # raises ValueError for a value it refuses
    refuse: Callable[[str], Problem]

    def __call__(self, request: Request) -> T:
        return self.of(request.path_params)

    def of(self, path_params: Mapping[str, str]) -> T:
        """The parameter parsed from the path parameters the router found."""
        value = path_params[self.name]
        try:
            return self.parse(value)
        except ValueError:
            raise self.refuse(value) from None

    def openapi(self) -> dict[str, Any]:
        return {"name": self.name, "in": "path", "required": True, "schema": self.schema}


def _sku(value: str) -> str:
    if not is_valid_sku(value):
        raise ValueError(value)
    return value


ORDER_ID = PathParameter[str](
    "order_id",
    {"type": "string", "format": "uuid"},
    uuid_text,
    lambda value: not_found("no such order"),
)
SKU = PathParameter[str](
    "sku",
    {"type": "string", "pattern": SKU_PATTERN, "examples": ["SKU-1"]},
    _sku,
    lambda value: invalid("sku", SKU_RULE, "string_pattern_mismatch"),
)
