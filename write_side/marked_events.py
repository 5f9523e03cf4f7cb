"""Events this build's write side stored, read back without validating them again.

Every event Tally appends was built from its pydantic model, so it was validated on the way
in, and carries the writer mark (events/writer.py): a keyed digest of its exact body under a
key made from every current model's schema. A message whose mark matches its body, in the
current version of its type, is built straight from its JSON (msgspec) into the model with
`model_construct`: no field validators, no pattern checks, no model validator. Only the
types JSON cannot carry are made here: `Decimal` amounts (written as strings) and tuples of
nested models (an order's lines). A body that names exactly the model's fields (every
body this build writes) is set as the instance's fields the way `model_construct` sets
them, without its per-field search for aliases and defaults.

Anything else (another build's or an older version, a foreign publisher's message, copied
headers on another body, a model with a field type this module does not know) goes
through `events.codec.decode` exactly as before: validation, upcasting, `DecodeError`. The
projections do the same for their plain values (projections/facts.py); this is the write
side's twin, which needs the models themselves for `evolve` and the process manager.
"""

import functools
import types
import typing
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from events.base import Event
from events.codec import RecordedEvent, decode, decode_envelope
from events.envelope import EVENT_TYPE
from events.registry import CURRENT
from events.writer import marked_body

Convert = Callable[[Any], Any]
Build = Callable[[dict[str, Any]], BaseModel]
_new = object.__new__
_set = object.__setattr__


def decode_marked(
    data: bytes, headers: Mapping[str, str], *, stream: str, seq: int, subject: str
) -> RecordedEvent:
    """As `events.codec.decode` (the same event, the same `DecodeError`s), but an event
    with this build's mark on its body is not validated again."""
    body = marked_body(data, headers)
    if body is not None:
        build = _builders().get(headers[EVENT_TYPE])
        if build is not None:
            try:
                event = build(body)
            except (KeyError, TypeError, ValueError, ArithmeticError):
                event = None
            if isinstance(event, Event):
                return RecordedEvent(stream, seq, subject, event, decode_envelope(headers))
    return decode(data, headers, stream=stream, seq=seq, subject=subject)


@functools.cache
def _builders() -> dict[str, Build]:
    """Each current event type's builder; a type with a field this module cannot build is
    left to the validating path."""
    found: dict[str, Build] = {}
    for name, model in CURRENT.items():
        build = builder(model)
        if build is not None:
            found[name] = build
    return found


def builder(model: type[BaseModel]) -> Build | None:
    """A function making `model` from its JSON body without validation, or None when a
    field's type is not one this module knows."""
    converts: list[tuple[str, Convert]] = []
    for name, field in model.model_fields.items():
        if field.alias not in (None, name):
            return None
        convert = _converter(field.annotation)
        if convert is None:
            return None
        if convert is not _same:
            converts.append((name, convert))
    construct = model.model_construct
    names = tuple(model.model_fields)
    plain = (
        not model.__pydantic_root_model__
        and not model.__pydantic_post_init__
        and model.model_config.get("extra") != "allow"
    )

    def build(body: dict[str, Any]) -> BaseModel:
        for name, convert in converts:
            if name in body:
                body[name] = convert(body[name])
        if not plain or len(body) != len(names):
            return construct(**body)
        try:
            values = {name: body[name] for name in names}  # in the fields' order
        except KeyError:
            return construct(**body)
        made = _new(model)
        _set(made, "__dict__", values)  # as model_construct sets an instance's fields
        _set(made, "__pydantic_fields_set__", set(names))
        _set(made, "__pydantic_extra__", None)
        _set(made, "__pydantic_private__", None)
        return made

    return build


def _same(value: Any) -> Any:
    return value


def _converter(annotation: Any) -> Convert | None:
    """JSON value -> field value for one field type: as it is for text, integers,
    booleans and literals; `Decimal` from its string; tuples of models item by item."""
    if annotation in (str, int, bool):
        return _same
    if annotation is Decimal:
        return Decimal
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal and all(isinstance(a, str | int | bool) for a in args):
        return _same
    if origin in (typing.Union, types.UnionType) and all(
        a is type(None) or _converter(a) is _same for a in args
    ):
        return _same  # e.g. `str | None`
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        item = args[0]
        if isinstance(item, type) and issubclass(item, BaseModel):
            nested = builder(item)
            if nested is not None:
                make = nested
                return lambda values: tuple(make(value) for value in values)
    return None
