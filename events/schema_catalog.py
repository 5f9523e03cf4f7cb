"""What the code knows about events, for the gate: every model of every version, the upcasters
and how a stored event is decoded.

`live_catalog()` is this build's (decoding through the codec, exactly as the streams are
read); `catalog_of(models, upcasters)` builds another one by the same rules, so that tests and
what-if checks can try a change before it is made to the live models.
"""

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from events.base import Event
from events.codec import decode_event
from events.envelope import EVENT_TYPE, EVENT_VERSION
from events.registry import UPCASTERS, Upcaster, all_models, upcast
from events.schema_registry import Key

Decoder = Callable[[str, int, bytes], Event]
"""(event type, stored version, stored data) -> the event in its current version."""


@dataclass(frozen=True)
class Catalog:
    """Every model of every version, the upcasters between versions, and the decoder."""

    models: tuple[type[Event], ...]
    upcasters: Mapping[Key, Upcaster]
    decode: Decoder

    def model(self, key: Key) -> type[Event] | None:
        return next((m for m in self.models if (m.event_type, m.schema_version) == key), None)

    def current(self) -> dict[str, type[Event]]:
        """Event type -> the model of its highest version (the one events are read into)."""
        return newest_models(self.models)

    def schemas(self) -> dict[Key, dict[str, Any]]:
        """(event type, version) -> the JSON Schema its model defines."""
        return {(model.event_type, model.schema_version): schema_of(model) for model in self.models}


def newest_models(models: Iterable[type[Event]]) -> dict[str, type[Event]]:
    """Event type -> the model of its highest version."""
    newest: dict[str, type[Event]] = {}
    for model in models:
        known = newest.get(model.event_type)
        if known is None or model.schema_version > known.schema_version:
            newest[model.event_type] = model
    return newest


def schema_of(model: type[Event]) -> dict[str, Any]:
    """The schema of one model: what its events look like on the wire (serialization mode)."""
    schema = model.model_json_schema(mode="serialization")
    schema["title"] = model.event_type
    schema["x-tally-event-type"] = model.event_type
    schema["x-tally-event-version"] = model.schema_version
    return schema


def live_catalog() -> Catalog:
    """This build's events, decoded by the codec with the envelope headers a stream carries."""

    def decode(event_type: str, version: int, data: bytes) -> Event:
        return decode_event(data, {EVENT_TYPE: event_type, EVENT_VERSION: str(version)})

    return Catalog(models=tuple(all_models()), upcasters=UPCASTERS, decode=decode)


def catalog_of(models: Iterable[type[Event]], upcasters: Mapping[Key, Upcaster]) -> Catalog:
    """A catalog of other models, read by the codec's rule: upcast step by step, then
    validate into the highest version."""
    models = tuple(models)
    current = newest_models(models)

    def decode(event_type: str, version: int, data: bytes) -> Event:
        raw = json.loads(data)
        model = current[event_type]
        return model.model_validate(
            upcast(event_type, version, raw, current=current, upcasters=upcasters)
        )

    return Catalog(models=models, upcasters=upcasters, decode=decode)
