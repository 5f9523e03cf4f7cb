"""The base of every event model: immutable, strict, named by a stable type name."""

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class Event(BaseModel):
    """An immutable fact. `event_type` and `schema_version` travel in the envelope headers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1
