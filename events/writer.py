"""The writer mark: a header that says "this exact body was validated on the way in by a
Tally whose event models are these".

Every event Tally appends was built from its pydantic model, so it was validated when it was
written. The mark is a keyed digest of the body, the key being a digest of every current
model's name, version and JSON Schema. A reader with the same models that finds the mark
matching the body need not validate it again: the projections decode such events as plain
values and keep full validation, upcasting and the dead-letter path for everything else:
events of another build or an older version, from any other publisher, or whose body was
changed after it was marked. The mark is not a signature (the key is no secret): it trusts
whoever may append to the event subjects, which in a secured deployment is only Tally's own
write side (tally/nats_permissions.py), and it catches copied headers and altered bodies.
"""

import functools
import hashlib
import json
from collections.abc import Mapping
from typing import Any

import msgspec

from events.envelope import EVENT_TYPE, EVENT_VERSION
from events.registry import CURRENT

WRITER = "Tally-Writer"
_json = msgspec.json.Decoder()


@functools.cache
def models_digest() -> bytes:
    """A digest of each current model's name, version and JSON Schema (computed once)."""
    digest = hashlib.sha256()
    for name in sorted(CURRENT):
        model = CURRENT[name]
        schema = [name, model.schema_version, model.model_json_schema()]
        digest.update(json.dumps(schema, sort_keys=True).encode())
    return digest.digest()


@functools.cache
def _keyed() -> hashlib.blake2b:
    """The keyed hasher, made once: a copy of it is a quarter of the cost of a new one."""
    return hashlib.blake2b(key=models_digest()[:32], digest_size=12)


def writer_mark(body: bytes) -> str:
    """The mark of `body` as written by this build: 24 hex digits."""
    hasher = _keyed().copy()
    hasher.update(body)
    return hasher.hexdigest()


def is_marked(body: bytes, mark: str | None) -> bool:
    """True when `mark` is this build's mark of exactly `body`."""
    return mark is not None and len(mark) == 24 and writer_mark(body) == mark


@functools.cache
def current_versions() -> dict[str, str]:
    """Each current model's version as its header writes it (a pydantic model's class
    attribute costs ~1 µs to read; this is a dict lookup)."""
    return {name: str(model.schema_version) for name, model in CURRENT.items()}


def marked_body(data: bytes, headers: Mapping[str, str]) -> dict[str, Any] | None:
    """The JSON body of an event this build wrote: the mark matches the body and the
    headers name the current version of its type. None for anything else, which the
    reader sends down the validating path (events.codec.decode)."""
    return marked_json(
        data, headers.get(WRITER), headers.get(EVENT_TYPE, ""), headers.get(EVENT_VERSION)
    )


def marked_json(
    data: bytes, mark: str | None, event_type: str, version_text: str | None
) -> dict[str, Any] | None:
    """`marked_body` of the three header values it reads."""
    if not is_marked(data, mark):
        return None
    version = current_versions().get(event_type)
    if version is None or version_text != version:
        return None
    try:
        body = _json.decode(data)
    except msgspec.DecodeError:
        return None
    return body if isinstance(body, dict) else None
