"""`tally audit NAME`: a view's audit counters re-counted from JetStream, independently of
the projector.

For each checkpoint row (the view, or each of its partitions) JetStream counts the events
of the row's subjects (`orders.>`, or `orders.<p>.*`) with `counted_from < seq <=
position`: a consumer created at a start sequence reports how many messages on its filter
follow it (`num_pending`), so the count is the difference of two such consumers, taken
while the stream's last sequence stays put (else counted again). The row is right when
`applied + dead` equals that count and `applied + dead + ignored == position -
counted_from`. Nothing is read message by message.

The view itself is checked too: each row of a view counts the events folded into it
(`version`), so the versions of the view's rows add up to the events its rows applied
(when every row has counted from the start: `counted_from = 0`).
"""

import asyncio
import contextlib
from dataclasses import dataclass
from uuid import uuid4

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from events.subjects import SUBJECT_PREFIX
from projections.base import Connection, Projection
from projections.partitions import ViewPartition

ATTEMPTS = 10


class AuditInexact(Exception):
    """Events kept arriving while counting: no exact count."""


@dataclass(frozen=True)
class RowAudit:
    name: str
    position: int
    counted_from: int
    applied: int
    dead: int
    ignored: int
    in_stream: int  # events of this row's subjects in (counted_from, position], per JetStream

    @property
    def adds_up(self) -> bool:
        return self.applied + self.dead + self.ignored == self.position - self.counted_from

    @property
    def matches_stream(self) -> bool:
        return self.applied + self.dead == self.in_stream

    @property
    def ok(self) -> bool:
        return self.adds_up and self.matches_stream

    def describe(self) -> str:
        verdict = "ok" if self.ok else "WRONG"
        return (
            f"{self.name}: position {self.position} (counted from {self.counted_from}):"
            f" applied {self.applied:,} + dead {self.dead:,} + ignored {self.ignored:,}"
            f" {'=' if self.adds_up else '!='} {self.position - self.counted_from:,};"
            f" the stream holds {self.in_stream:,} of its events there"
            f" ({'=' if self.matches_stream else '!='} applied + dead): {verdict}"
        )


def subjects_of(row: Projection) -> str:
    prefix = SUBJECT_PREFIX[row.stream]
    return f"{prefix}.{row.partition}.*" if isinstance(row, ViewPartition) else f"{prefix}.>"


async def _pending_from(js: JetStreamContext, stream: str, subjects: str, start: int) -> int:
    """How many messages on `subjects` the stream holds from sequence `start` on."""
    name = f"audit-{uuid4().hex[:12]}"
    config = ConsumerConfig(
        name=name,
        filter_subject=subjects,
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
        opt_start_seq=max(start, 1),
        ack_policy=AckPolicy.NONE,
        inactive_threshold=10.0,
        mem_storage=True,
    )
    info = await js.add_consumer(stream, config)
    try:
        return int(info.num_pending or 0)
    finally:
        with contextlib.suppress(NotFoundError):
            await js.delete_consumer(stream, name)


async def count_between(
    js: JetStreamContext, stream: str, subjects: str, after: int, upto: int
) -> int:
    """Messages on `subjects` with `after < seq <= upto`, counted while nothing is appended."""
    for _ in range(ATTEMPTS):
        last = (await js.stream_info(stream)).state.last_seq
        counted = await _pending_from(js, stream, subjects, after + 1)
        counted -= await _pending_from(js, stream, subjects, upto + 1)
        if (await js.stream_info(stream)).state.last_seq == last:
            return counted
        await asyncio.sleep(0.1)
    raise AuditInexact(f"{stream} kept growing while its events were counted")


@dataclass(frozen=True)
class ViewAudit:
    """The versions of the view's rows against the events its checkpoint rows applied."""

    view: str
    versions: int | None  # None: some row did not count from the start, not comparable
    applied: int

    @property
    def ok(self) -> bool:
        return self.versions is None or self.versions == self.applied

    def describe(self) -> str:
        if self.versions is None:
            return f"{self.view}: counters began after the start; the view's rows not compared"
        verdict = "ok" if self.ok else "WRONG"
        return (
            f"{self.view}: the view's rows hold {self.versions:,} events"
            f" ({'=' if self.ok else '!='} {self.applied:,} applied): {verdict}"
        )


async def audit_view(conn: Connection, view: Projection, rows: list[RowAudit]) -> ViewAudit:
    applied = sum(row.applied for row in rows)
    if any(row.counted_from for row in rows):
        return ViewAudit(view.name, None, applied)
    table = view.tables[0]  # the aggregate's own row (orders, stock_items): its `version`
    versions = await conn.fetchval(f'SELECT coalesce(sum(version), 0) FROM "{table.name}"')
    return ViewAudit(view.name, int(versions), applied)


_ROW = """SELECT position, counted_from, applied, dead, ignored
FROM projection_checkpoints WHERE name = $1"""


async def audit_row(conn: Connection, js: JetStreamContext, row: Projection) -> RowAudit:
    found = await conn.fetchrow(_ROW, row.name)
    if found is None:
        return RowAudit(row.name, 0, 0, 0, 0, 0, 0)
    position, counted_from = int(found["position"]), int(found["counted_from"])
    in_stream = await count_between(js, row.stream, subjects_of(row), counted_from, position)
    return RowAudit(
        row.name,
        position,
        counted_from,
        int(found["applied"]),
        int(found["dead"]),
        int(found["ignored"]),
        in_stream,
    )
