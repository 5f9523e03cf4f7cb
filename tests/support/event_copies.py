"""Copies of the live event models with one change, and catalogs and registries around them,
for trying the schema gate on a change before anyone makes it to the real models."""

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import create_model

from events.base import Event
from events.registry import UPCASTERS, Upcaster, all_models
from events.schema_catalog import Catalog, catalog_of
from events.schema_registry import SCHEMA_DIR, Registry, load_registry


def copy_of(
    model: type[Event], *, version: int | None = None, drop: str = "", **fields: Any
) -> type[Event]:
    """`model` with field `drop` left out and `fields` (name=(type, default)) added or
    replaced, at `version` (default: the model's own)."""

    class Base(Event):
        event_type: ClassVar[str] = model.event_type
        schema_version: ClassVar[int] = version or model.schema_version

    kept = {
        name: (info.annotation, info) for name, info in model.model_fields.items() if name != drop
    }
    copy = create_model(model.__name__, __base__=Base, **{**kept, **fields})
    copy.__doc__ = model.__doc__
    return copy


def catalog_with(
    *models: type[Event],
    without: tuple[type[Event], ...] = (),
    upcasters: Mapping[tuple[str, int], Upcaster] = UPCASTERS,
) -> Catalog:
    """The live catalog with `models` in place of the live ones of their type and version,
    and the `without` ones left out."""
    replaced = {(model.event_type, model.schema_version) for model in models}
    kept = [
        live
        for live in all_models()
        if (live.event_type, live.schema_version) not in replaced and live not in without
    ]
    return catalog_of([*kept, *models], upcasters)


def live_registry() -> Registry:
    return load_registry(SCHEMA_DIR)


def registry_copy(directory: Path) -> Path:
    """A writable copy of the committed registry (schemas and examples) under `directory`."""
    target = directory / "schemas"
    shutil.copytree(SCHEMA_DIR, target)
    return target
