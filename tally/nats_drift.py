"""Does the live NATS configuration match what `tally migrate` makes? Checked by every
worker at start, which then refuses to run on a drifted one.

Only `admin` may change streams and consumers (tally/nats_permissions.py), but a changed
configuration is still worth a loud stop: a `republish` added to a stream, a consumer
turned into a push consumer delivering elsewhere, limits that would drop events, or simply
a `tally migrate` that was not run after an upgrade. Each role checks what it uses, with
the reads its NATS user may do (stream and consumer info).
"""

from collections.abc import Mapping
from typing import Any

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from events.subjects import ORDERS, PAYMENTS, STOCK
from projections.consumers import consumer_config as projection_consumer
from projections.consumers import consumer_name
from projections.dlq import DLQ_STREAM, dlq_stream_config
from projections.partitions import projectors_of
from projections.registry import PROJECTIONS
from tally.nats_connection import at_start
from tally.settings import Settings
from write_side.fulfilment.consumer import CONSUMER as FULFILMENT
from write_side.fulfilment.consumer import consumer_config_for as fulfilment_consumer
from write_side.fulfilment.status import BUCKET as STATUS_BUCKET
from write_side.idempotency import BUCKET as IDEMPOTENCY_BUCKET
from write_side.ids import SECRETS_BUCKET
from write_side.streams import StreamSettings, read_layout, stream_config

# Never set by `tally migrate`: present, they redirect or drop what a stream holds.
_STREAM_EXTRAS = ("republish", "sources", "mirror", "subject_transform")
_CONSUMER_EXTRAS = ("deliver_subject", "deliver_group", "filter_subjects")
_NO_LIMITS = {"max_msgs": -1, "max_bytes": -1, "max_msg_size": -1, "sealed": False}
# A consumer's flow control: tuned by operators and tests (a short ack_wait brings back what
# a crash left unacknowledged sooner), it neither drops nor redirects an event, and the
# fulfilment consumer's max_ack_pending follows TALLY_FULFIL_CONCURRENCY of whichever
# process ran `tally migrate`. Not drift.
_CONSUMER_TUNING = ("ack_wait", "max_ack_pending", "max_waiting")


class ConfigurationDrift(Exception):
    """The live streams or consumers are not what `tally migrate` makes."""


def differences(what: str, want: Mapping[str, Any], live: Mapping[str, Any]) -> list[str]:
    consumer = "durable_name" in want
    ignored = ("metadata", *(_CONSUMER_TUNING if consumer else ()))
    found = [
        f"{what}: {key} is {live.get(key)!r}, not {value!r}"
        for key, value in want.items()
        if key not in ignored and live.get(key) != value
    ]
    extras = _CONSUMER_EXTRAS if consumer else _STREAM_EXTRAS
    found += [
        f"{what}: has {key} {live[key]!r}" for key in extras if live.get(key) and key not in want
    ]
    return found


async def _stream(js: JetStreamContext, name: str, want: Mapping[str, Any]) -> list[str]:
    try:
        live = (await js.stream_info(name)).config.as_dict()
    except NotFoundError:
        return [f"stream {name} is missing"]
    return differences(f"stream {name}", {**_NO_LIMITS, **want}, live)


async def _consumer(
    js: JetStreamContext, stream: str, name: str, want: Mapping[str, Any]
) -> list[str]:
    try:
        live = (await js.consumer_info(stream, name)).config.as_dict()
    except NotFoundError:
        return [f"consumer {name} on {stream} is missing"]
    return differences(f"consumer {name} on {stream}", want, live)


def _events(name: str, settings: Settings, partitions: int = 1) -> dict[str, Any]:
    """An event stream as migrate makes it, with the partitions it was given (the stream's
    subject transform, read from the server: `TALLY_PARTITIONS` of `tally migrate`)."""
    streams = StreamSettings(
        settings.stream_replicas, settings.duplicate_window_seconds, partitions=partitions
    )
    return {"max_age": 0, **stream_config(name, streams).as_dict()}


def _bucket(bucket: str, settings: Settings, ttl_seconds: float = 0) -> dict[str, Any]:
    return {
        "subjects": [f"$KV.{bucket}.>"],
        "max_msgs_per_subject": 1,
        "max_age": int(ttl_seconds * 1e9),
        "num_replicas": settings.stream_replicas,
    }


async def role_drift(js: JetStreamContext, role: str, settings: Settings) -> list[str]:
    """What differs, for what `role` (api, projector, fulfil) uses; [] when nothing."""
    found: list[str] = []
    layout = await read_layout(js)
    if role == "api":
        for name in (ORDERS, STOCK):
            found += await _stream(js, name, _events(name, settings, layout.count(name)))
        ttl = settings.idempotency_ttl_hours * 3600
        kv = _bucket(IDEMPOTENCY_BUCKET, settings, ttl)
        found += await _stream(js, f"KV_{IDEMPOTENCY_BUCKET}", kv)
        found += await _stream(js, f"KV_{SECRETS_BUCKET}", _bucket(SECRETS_BUCKET, settings))
    elif role == "projector":
        for name in sorted({projection.stream for projection in PROJECTIONS.values()}):
            found += await _stream(js, name, _events(name, settings, layout.count(name)))
        dlq = dlq_stream_config(replicas=settings.stream_replicas).as_dict()
        found += await _stream(js, DLQ_STREAM, {"max_age": 0, **dlq})
        for view in PROJECTIONS.values():
            for projection in projectors_of(view, layout):  # a consumer per partition
                want = projection_consumer(projection).as_dict()
                name = consumer_name(projection)
                found += await _consumer(js, projection.stream, name, want)
    elif role == "fulfil":
        for name in (ORDERS, STOCK, PAYMENTS):
            found += await _stream(js, name, _events(name, settings, layout.count(name)))
        config = fulfilment_consumer(settings.fulfil_concurrency)
        found += await _consumer(js, ORDERS, FULFILMENT, config.as_dict())
        found += await _stream(js, f"KV_{STATUS_BUCKET}", _bucket(STATUS_BUCKET, settings))
    else:
        raise ValueError(f"no such worker role: {role}")
    return found


COMMANDS = {"api": "tally api", "projector": "tally project", "fulfil": "tally fulfil"}


async def require_no_drift(js: JetStreamContext, role: str, settings: Settings) -> None:
    """Raise ConfigurationDrift, naming every difference, unless all is as migrate made it.
    While JetStream cannot answer yet (a leader election), the role waits for it, as it does
    binding its buckets (`at_start`, up to TALLY_NATS_CONNECT_TIMEOUT), rather than exit."""
    found = await at_start(
        f"checking the NATS configuration of {COMMANDS[role]}",
        lambda: role_drift(js, role, settings),
        timeout=settings.nats_connect_timeout,
    )
    if found:
        raise ConfigurationDrift(
            f"the NATS configuration that `{COMMANDS[role]}` uses is not what `tally migrate` "
            "makes: " + "; ".join(found) + ". Run `tally migrate` (with the same "
            "TALLY_STREAM_REPLICAS, TALLY_DUPLICATE_WINDOW_SECONDS and "
            "TALLY_IDEMPOTENCY_TTL_HOURS as this process), or find out who changed it."
        )
