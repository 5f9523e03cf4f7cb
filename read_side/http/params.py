"""Query parameters, validated by pydantic models (invalid -> 422 naming each field) that
also give the OpenAPI document its parameters. Unknown parameters are ignored, as caches
and browsers add their own."""

import re
from functools import cached_property
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.datastructures import QueryParams
from starlette.requests import Request

from events.subjects import STREAM_SUBJECTS, Position
from http_edge.problems import invalid, validation_problem
from read_side.temporal import AsOf, parse_as_of

OrderStatus = Literal["pending", "confirmed", "rejected", "cancelled", "shipped"]
DEFAULT_WAIT = 5.0
MAX_WAIT = 30.0
M = TypeVar("M", bound=BaseModel)


def position_pattern(*streams: str) -> str:
    """A position of one of these streams, as `after` accepts it (`ORDERS:42`)."""
    return rf"^({'|'.join(streams)}):[0-9]{{1,19}}$"


_POSITION = re.compile(position_pattern(*STREAM_SUBJECTS))


class ReadYourWrites(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    after: str | None = Field(
        default=None,
        description="a position from a command's answer, e.g. `ORDERS:42`: answer once the "
        "view has applied it",
        examples=["ORDERS:42"],
    )
    wait: float = Field(
        default=DEFAULT_WAIT,
        ge=0,
        le=MAX_WAIT,
        description="seconds to wait for `after` before 503 projection-lagging",
    )

    @field_validator("after")
    @classmethod
    def _position(cls, value: str | None) -> str | None:
        if value is not None and not _POSITION.fullmatch(value):
            raise ValueError(f"not a position: {value!r} (expected e.g. 'ORDERS:42')")
        return value

    @cached_property
    def position(self) -> Position | None:
        """`after` parsed, once per model (a query string asked again is the same model)."""
        return Position.parse(self.after) if self.after is not None else None


class ViewQuery(ReadYourWrites):
    """One view row: now (after `after`), or as of a point of the view's stream."""

    as_of: str | None = Field(
        default=None,
        max_length=64,
        description="a position of the view's stream (`ORDERS:42`) or an RFC 3339 time: "
        "the row folded from the aggregate's events up to that point, with `as_of` naming "
        "the last position folded; excludes `after`",
        examples=["ORDERS:42", "2026-11-30T10:00:00Z"],
    )

    @field_validator("as_of")
    @classmethod
    def _point(cls, value: str | None) -> str | None:
        if value is not None:
            parse_as_of(value)
        return value

    @property
    def point(self) -> AsOf | None:
        return parse_as_of(self.as_of) if self.as_of is not None else None


class Page(ReadYourWrites):
    limit: int = Field(default=50, ge=1, le=500, description="items per page (1-500)")
    cursor: str | None = Field(
        default=None, max_length=400, description="`next_cursor` of the previous page"
    )


class OrderListQuery(Page):
    status: OrderStatus | None = None
    customer_id: str | None = Field(
        default=None, min_length=1, max_length=200, pattern=r"^[^\x00]+$"
    )


class StockListQuery(Page):
    max_available: int | None = Field(
        default=None, ge=-(2**62), le=2**62, description="only items with available <= this"
    )


def parse_query(model: type[M], query: QueryParams) -> M:
    repeated = [key for key in query if len(query.getlist(key)) > 1]
    if repeated:
        raise invalid(repeated[0], "given more than once", "repeated")
    try:
        return model.model_validate(dict(query))
    except ValidationError as error:
        raise validation_problem(error, whole="query") from None


_DEFAULTS: dict[type[BaseModel], BaseModel] = {}
_PARSED: dict[tuple[type[BaseModel], bytes], BaseModel] = {}
PARSED_KEPT = 1024  # query strings remembered (valid ones; the models are frozen)


def query_of(model: type[M], request: Request) -> M:
    """`parse_query` of the request's query string; no query string (the common GET) is the
    model's defaults, made once instead of validated per request, and a query string seen
    lately is its model as parsed then (a GET asked again, e.g. the same page or `after=`)."""
    raw: bytes = request.scope["query_string"]
    if raw:
        seen = _PARSED.get((model, raw))
        if seen is None:
            seen = parse_query(model, request.query_params)  # raises for an invalid one
            if len(_PARSED) >= PARSED_KEPT:
                _PARSED.clear()
            _PARSED[model, raw] = seen
        return seen  # type: ignore[return-value]  # keyed by its own type
    default = _DEFAULTS.get(model)
    if default is None:
        default = _DEFAULTS[model] = model()
    return default  # type: ignore[return-value]  # keyed by its own type
