"""`tally status` and `tally dlq list | retry | drop`: what the streams, consumers,
projections and dead letters look like, and what to do with the dead letters."""

import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from nats.js.errors import NotFoundError
from nats.js.manager import JetStreamManager
from rich.console import Console
from rich.table import Table

from events.partitions import partition_of
from projections.batch import lock_checkpoint
from projections.dlq import DLQ_STREAM, DLQ_SUBJECTS, drop_dead_letter, list_dead_letters
from projections.partitions import ViewPartition, projectors_of
from projections.registry import PROJECTIONS, get_projection
from tally.bootstrap import Parts, bootstrap
from tally.settings import Settings
from write_side.fulfilment.status import describe_status, read_breaker_status


@asynccontextmanager
async def _operator(settings: Settings) -> AsyncIterator[Parts]:
    """The parts of an operator's command: it gives up on NATS after 5 s at most."""
    timeout = min(settings.nats_connect_timeout, 5)
    async with bootstrap(settings, name="tally-cli", connect_timeout=timeout) as parts:
        yield parts


async def _last_of(jsm: JetStreamManager, stream: str, subjects: str) -> int:
    try:
        return int((await jsm.get_last_msg(stream, subjects)).seq or 0)
    except NotFoundError:
        return 0


_CHECKPOINTS = """SELECT name, position, state, applied, dead, ignored,
    applied + dead + ignored = position - counted_from AS complete FROM projection_checkpoints"""


def audited(row: asyncpg.Record) -> str:
    """The audit counters of a checkpoint row and whether they add up to its position."""
    counts = f"{row['applied']:,} / {row['dead']:,} / {row['ignored']:,}"
    return f"{counts} {'ok' if row['complete'] else 'INCOMPLETE'}"


async def _checkpoints(parts: Parts) -> dict[str, tuple[int, str, str]]:
    if parts.settings.database_dsn() is None:
        return {}
    try:
        conn = await parts.database()
    except (OSError, TimeoutError, asyncpg.PostgresError) as error:
        state = f"database unreachable ({type(error).__name__})"
        return {name: (0, state, "-") for name in PROJECTIONS}
    rows = await conn.fetch(_CHECKPOINTS)
    return {row["name"]: (int(row["position"]), row["state"], audited(row)) for row in rows}


async def run_status(settings: Settings, console: Console) -> None:
    async with _operator(settings) as parts:
        nc = await parts.nats()
        jsm = nc.jsm()
        streams = Table("stream", "messages", "first seq", "last seq", "consumers", title="Streams")
        consumers = Table(
            "stream", "consumer", "pending", "ack pending", "redelivered", title="Consumers"
        )
        last: dict[str, int] = {}
        for info in await jsm.streams_info():
            name, state = info.config.name or "?", info.state
            last[name] = int(state.last_seq)
            streams.add_row(
                name,
                f"{state.messages:,}",
                str(state.first_seq),
                str(state.last_seq),
                str(state.consumer_count),
            )
            for consumer in await jsm.consumers_info(name):
                consumers.add_row(
                    name,
                    consumer.name,
                    f"{consumer.num_pending or 0:,}",
                    f"{consumer.num_ack_pending or 0:,}",
                    f"{consumer.num_redelivered or 0:,}",
                )
        checkpoints = await _checkpoints(parts)
        projections = Table(
            "projection",
            "partition",
            "stream",
            "position",
            "last seq",
            "lag",
            "state",
            "applied / dead / ignored, audit",
            title="Projections",
        )
        layout = await parts.layout()
        for name, projection in PROJECTIONS.items():
            for row in projectors_of(projection, layout):
                position, mode, audit = checkpoints.get(row.name, (0, "never run", "-"))
                top = last.get(projection.stream, 0)
                partition = row.partition if isinstance(row, ViewPartition) else None
                if isinstance(row, ViewPartition):  # the partition's own last event
                    top = await _last_of(jsm, projection.stream, row.filter_subject)
                projections.add_row(
                    name,
                    "-" if partition is None else str(partition),
                    projection.stream,
                    str(position),
                    str(top),
                    f"{max(0, top - position):,}",
                    mode,
                    audit,
                )
        letters: Counter[str] = Counter()
        if DLQ_STREAM in last:  # counted per subject by the server, not read one by one
            info = await jsm.stream_info(DLQ_STREAM, subjects_filter=DLQ_SUBJECTS)
            for subject, count in (info.state.subjects or {}).items():
                letters[subject.rpartition(".")[2]] += count
        dead = Table("projection", "dead letters", title="Dead letters")
        for name, count in sorted(letters.items()):
            dead.add_row(name, str(count))
        breaker = await read_breaker_status(nc.jetstream())
        for table in (streams, consumers, projections, dead):
            console.print(table)
        console.print(describe_status(breaker, time.time()))
        if not letters:
            console.print("no dead letters")


async def dlq_list(settings: Settings, console: Console) -> None:
    async with _operator(settings) as parts:
        table = Table(
            "seq", "projection", "event", "type", "attempts", "error", title="Dead letters"
        )
        for letter in await list_dead_letters((await parts.nats()).jetstream()):
            original = letter.original
            table.add_row(
                str(letter.seq),
                letter.projection,
                f"{original.stream}:{original.seq}",
                original.headers.get("Tally-Event-Type", "?"),
                str(letter.attempts),
                letter.error,
            )
        console.print(table)


async def dlq_drop(settings: Settings, seqs: list[int], everything: bool) -> int:
    async with _operator(settings) as parts:
        js = (await parts.nats()).jetstream()
        chosen = [letter.seq for letter in await list_dead_letters(js)] if everything else seqs
        return sum([await drop_dead_letter(js, seq) for seq in chosen])


_RETRIED = """UPDATE projection_checkpoints SET applied = applied + 1, dead = dead - 1
WHERE name = $1 AND dead > 0"""


async def dlq_retry(settings: Settings, seqs: list[int], everything: bool, console: Console) -> int:
    """Apply dead letters again (after a fix) to the live view; those that now apply are
    removed from the dead letters, the others stay with their new error."""
    if settings.database_dsn() is None:
        raise RuntimeError("DATABASE_URL is not set")
    async with _operator(settings) as parts:
        js = (await parts.nats()).jetstream()
        conn = await parts.database()
        done = 0
        for letter in await list_dead_letters(js):
            if not everything and letter.seq not in seqs:
                continue
            projection = get_projection(letter.projection)
            rows = projectors_of(projection, await parts.layout())
            token = letter.original.subject.rpartition(".")[2]
            owner = rows[partition_of(token, len(rows))] if len(rows) > 1 else rows[0]
            try:
                event = letter.original.decode()
                async with conn.transaction():
                    await lock_checkpoint(conn, owner)  # the partition that holds it
                    await projection.apply(conn, "public", [event])
                    await conn.execute(_RETRIED, owner.name)  # the audit: dead -> applied
            except Exception as error:
                console.print(f"dead letter {letter.seq}: still failing: {error}")
                continue
            await drop_dead_letter(js, letter.seq)
            console.print(f"dead letter {letter.seq}: applied to {projection.name}, removed")
            done += 1
        return done
