"""`tally status`: the streams, their consumers, each projection's progress, the dead
letters by projection and the payment breaker, read once; and what `--check` finds wrong
in it."""

import time
from dataclasses import dataclass, replace
from typing import Any

from nats.js import JetStreamContext

from projections.dlq import DLQ_STREAM, DLQ_SUBJECTS
from projections.partitions import parse_checkpoint_key, projectors_of
from projections.registry import PROJECTIONS
from tally.operator.pauses import paused_views
from tally.operator.progress import CHECKPOINTS, ViewProgress, read_progress
from tally.operator.session import operator_session
from tally.settings import Settings
from write_side.fulfilment.status import read_breaker_status, reported_snapshot


@dataclass(frozen=True)
class StreamRow:
    name: str
    messages: int
    first_seq: int
    last_seq: int
    consumers: int


@dataclass(frozen=True)
class ConsumerRow:
    stream: str
    name: str
    pending: int
    ack_pending: int
    redelivered: int


@dataclass(frozen=True)
class StatusReport:
    streams: list[StreamRow]
    consumers: list[ConsumerRow]
    projections: list[ViewProgress]  # empty without a database
    dead_letters: dict[str, int]  # by projection
    breaker: dict[str, Any] | None  # what the fulfilment process last reported
    taken_at: float  # Unix time

    def breaker_state(self) -> str | None:
        if self.breaker is None:
            return None
        return reported_snapshot(self.breaker, self.taken_at)[0].state


async def read_status(settings: Settings, timeout: float) -> StatusReport:
    database = settings.database_dsn() is not None
    async with operator_session(settings, timeout, database=database) as parts:
        js = (await parts.nats()).jetstream()
        streams, consumers = await _streams(js)
        progress: list[ViewProgress] = []
        if database:
            conn = await parts.database()
            rows = await conn.fetch(CHECKPOINTS)
            layout = await parts.layout()  # one row per partition of a partitioned view
            chosen = [p for view in PROJECTIONS.values() for p in projectors_of(view, layout)]
            paused = await paused_views(conn)  # also those with no checkpoint row yet
            progress = [
                replace(view, paused=view.paused or parse_checkpoint_key(view.name)[0] in paused)
                for view in await read_progress(js, rows, chosen)
            ]
        return StatusReport(
            streams,
            consumers,
            progress,
            await _dead_letter_counts(js) if any(s.name == DLQ_STREAM for s in streams) else {},
            await read_breaker_status(js),
            time.time(),
        )


async def _streams(js: JetStreamContext) -> tuple[list[StreamRow], list[ConsumerRow]]:
    streams, consumers = [], []
    for info in await js.streams_info():
        name, state = info.config.name or "?", info.state
        streams.append(
            StreamRow(
                name,
                int(state.messages),
                int(state.first_seq),
                int(state.last_seq),
                int(state.consumer_count),
            )
        )
        for consumer in await js.consumers_info(name):
            consumers.append(
                ConsumerRow(
                    name,
                    consumer.name,
                    int(consumer.num_pending or 0),
                    int(consumer.num_ack_pending or 0),
                    int(consumer.num_redelivered or 0),
                )
            )
    return streams, consumers


async def _dead_letter_counts(js: JetStreamContext) -> dict[str, int]:
    """Dead letters by projection, counted per subject by the server, none read."""
    info = await js.stream_info(DLQ_STREAM, subjects_filter=DLQ_SUBJECTS)
    counts: dict[str, int] = {}
    for subject, count in (info.state.subjects or {}).items():
        projection = subject.rpartition(".")[2]
        counts[projection] = counts.get(projection, 0) + int(count)
    return dict(sorted(counts.items()))


def problems(report: StatusReport, *, max_lag: int | None, stall_seconds: float) -> list[str]:
    """What `tally status --check` fails on, one line each; empty when all is well."""
    found = []
    for view in report.projections:
        if view.stalled(stall_seconds):
            still = (
                "it never ran"
                if view.idle_seconds is None
                else (f"no progress for {view.idle_seconds:.0f} s")
            )
            found.append(
                f"projection {view.name} is stalled: {view.lag} events behind, {still} "
                f"(TALLY_READY_STALL_SECONDS={stall_seconds:g})"
            )
        elif view.position > view.stream_last_seq:
            found.append(
                f"projection {view.name} is ahead of its stream (position {view.position}, "
                f"{view.stream} ends at {view.stream_last_seq}: restored streams?): replay it"
            )
        elif max_lag is not None and view.lag > max_lag:
            found.append(f"projection {view.name} lags {view.lag} events (--max-lag {max_lag})")
    for projection, count in report.dead_letters.items():
        found.append(f"{count} dead letter(s) of projection {projection} (tally dlq list)")
    if report.breaker_state() == "open":
        found.append("the payment breaker is open (payments are parked)")
    return found
