"""`tally migrate --check`: is everything `tally migrate` makes at head? The database's
Alembic revision, and the streams, key-value buckets and consumers; nothing is changed.
Each returns one line per thing behind ([] when none is)."""

import asyncio

from alembic.script import ScriptDirectory
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from events.partitions import Layout
from events.subjects import STREAM_SUBJECTS
from projections.base import Connection
from projections.consumers import consumer_name
from projections.dlq import DLQ_STREAM
from projections.partitions import projectors_of
from projections.registry import PROJECTIONS
from tally.roles.database import alembic_config
from tally.settings import Settings
from write_side.fulfilment.consumer import CONSUMER as FULFILMENT
from write_side.fulfilment.status import BUCKET as STATUS_BUCKET
from write_side.idempotency import BUCKET as IDEMPOTENCY_BUCKET
from write_side.snapshots import BUCKET as SNAPSHOT_BUCKET
from write_side.streams import PARTITIONED

_CURRENT = """SELECT version_num FROM alembic_version"""
_HAS_VERSIONS = "SELECT to_regclass('alembic_version') IS NOT NULL"


def _heads(dsn: str) -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config(dsn)).get_heads())


async def database_behind(conn: Connection, dsn: str) -> list[str]:
    heads = await asyncio.to_thread(_heads, dsn)
    if not await conn.fetchval(_HAS_VERSIONS):
        return ["database: not migrated (no alembic_version table)"]
    current = {row["version_num"] for row in await conn.fetch(_CURRENT)}
    if current != heads:
        shown = ", ".join(sorted(current)) or "none"
        return [f"database: at revision {shown}, head is {', '.join(sorted(heads))}"]
    return []


async def streams_behind(js: JetStreamContext, settings: Settings) -> list[str]:
    streams = [*STREAM_SUBJECTS, DLQ_STREAM, f"KV_{IDEMPOTENCY_BUCKET}", f"KV_{STATUS_BUCKET}"]
    found = []
    for stream in streams:
        try:
            await js.stream_info(stream)
        except NotFoundError:
            found.append(f"stream {stream} is missing")
    snapshots = f"KV_{SNAPSHOT_BUCKET}"
    try:
        if not (await js.stream_info(snapshots)).config.allow_direct:
            found.append(f"stream {snapshots} does not allow direct gets")
    except NotFoundError:
        found.append(f"stream {snapshots} is missing")
    layout = Layout({stream: settings.partitions for stream in PARTITIONED})
    consumers = [
        (p.stream, consumer_name(p))
        for view in PROJECTIONS.values()
        for p in projectors_of(view, layout)
    ]
    for stream, consumer in [*consumers, ("ORDERS", FULFILMENT)]:
        try:
            await js.consumer_info(stream, consumer)
        except NotFoundError:
            found.append(f"consumer {consumer} on {stream} is missing")
    return found
