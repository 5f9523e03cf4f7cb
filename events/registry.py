"""Every event type by its stable name and schema version, and the upcasters between versions.

Names are the contract (`OrderPlaced`), never Python module paths. A stored event of an old
version is upcast step by step (v1 -> v2 -> ...) to the current model when it is read.
"""

from collections.abc import Callable, Mapping
from typing import Any

from events.base import Event
from events.orders import ORDER_EVENTS, OrderPlacedV1
from events.payments import PAYMENT_EVENTS
from events.stock import STOCK_EVENTS

JsonObject = dict[str, Any]
Upcaster = Callable[[JsonObject], JsonObject]

CURRENT: dict[str, type[Event]] = {
    model.event_type: model for model in (*ORDER_EVENTS, *STOCK_EVENTS, *PAYMENT_EVENTS)
}
"""The model each event type is read into."""

HISTORIC: tuple[type[Event], ...] = (OrderPlacedV1,)
"""Older shapes still found in streams; kept for their JSON schemas and for tests."""


def _order_placed_v1_to_v2(data: JsonObject) -> JsonObject:
    # Before currencies were introduced every order was in euros.
    return {**data, "currency": "EUR"}


UPCASTERS: dict[tuple[str, int], Upcaster] = {
    ("OrderPlaced", 1): _order_placed_v1_to_v2,
}
"""(type, version) -> function that turns that version's data into the next version's."""


class UnknownEventType(LookupError):
    pass


class UnknownSchemaVersion(LookupError):
    pass


def all_models() -> list[type[Event]]:
    """Every model of every version, for schema generation."""
    return [*CURRENT.values(), *HISTORIC]


def upcast(
    event_type: str,
    version: int,
    data: JsonObject,
    *,
    current: Mapping[str, type[Event]] = CURRENT,
    upcasters: Mapping[tuple[str, int], Upcaster] = UPCASTERS,
) -> JsonObject:
    """Bring `data` of `event_type` at `version` up to the current version.

    `current` and `upcasters` default to this build's; the schema gate passes others to try
    a catalog that is not (yet) the live one.
    """
    model = current.get(event_type)
    if model is None:
        raise UnknownEventType(f"unknown event type {event_type!r}")
    if version > model.schema_version or version < 1:
        raise UnknownSchemaVersion(
            f"{event_type} version {version} (this build knows up to {model.schema_version})"
        )
    while version < model.schema_version:
        step = upcasters.get((event_type, version))
        if step is None:
            raise UnknownSchemaVersion(f"no upcaster for {event_type} v{version}")
        data = step(data)
        version += 1
    return data
