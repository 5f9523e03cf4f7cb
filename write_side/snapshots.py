"""Snapshots of long aggregates, so that a process that has not seen a subject yet (a cold
start, a state pushed out of the cache) does not fold its history from sequence 1.

One snapshot per subject in a key-value bucket (`tally migrate` makes it): the folded state
as of a stream sequence, written after every `every` events this process folded or
appended on that subject, or after a tenth as many on a subject that was read from its
snapshot (not held in the process's cache). A snapshot is a hint, never the truth:
- it is read only for a subject the process does not hold, and the events after the
  sequence it names are always read and folded on top of it;
- it is ignored when its schema version or aggregate kind is not the one this code knows,
  when it cannot be parsed, and when it names a sequence beyond the subject's last one (a
  stream restored from an older backup): the history is folded from sequence 1 instead;
- reading or writing it may fail (bucket missing, no permission, NATS busy): the command
  goes on without it, and the failure is logged once per kind of failure.

Only aggregates with a codec here are snapshotted: stock items, the subjects that collect
thousands of events (orders and payments hold a handful each).
"""

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from immutables import Map

from write_side.aggregates import STOCK_ITEM, Aggregate
from write_side.domain.stock import StockState
from write_side.errors import StoreUnavailable
from write_side.ports import EventStore, KeyValueBucket

log = logging.getLogger(__name__)
S = TypeVar("S")
C = TypeVar("C")
BUCKET = "tally_snapshots"
SCHEMA = 1  # of the JSON below; a snapshot of another version is ignored
MAX_BYTES = 512 * 1024  # a larger state is not snapshotted (the bucket's messages stay small)
MAX_TRACKED = 100_000  # subjects whose events-since-snapshot are counted
REFRESH_SHARE = 10  # a subject read from its snapshot: the next after every/10 events


@dataclass(frozen=True)
class SnapshotCodec(Generic[S]):
    """How one aggregate's state becomes JSON and back; `load` raises on what it cannot
    read (KeyError, TypeError, ValueError)."""

    dump: Callable[[S], dict[str, Any]]
    load: Callable[[dict[str, Any]], S]


def _dump_stock(state: StockState) -> dict[str, Any]:
    return {
        "sku": state.sku,
        "exists": state.exists,
        "on_hand": state.on_hand,
        "reserved": state.reserved,
        "reservations": dict(state.reservations),
    }


def _load_stock(data: dict[str, Any]) -> StockState:
    reservations = {str(order): int(qty) for order, qty in data["reservations"].items()}
    state = StockState(
        sku=str(data["sku"]),
        exists=bool(data["exists"]),
        on_hand=int(data["on_hand"]),
        reserved=int(data["reserved"]),
        reservations=Map(reservations),
    )
    if state.reserved != sum(reservations.values()):
        raise ValueError("reserved is not the sum of the reservations")
    return state


CODECS: dict[str, SnapshotCodec[Any]] = {STOCK_ITEM.kind: SnapshotCodec(_dump_stock, _load_stock)}


def encode_snapshot(kind: str, seq: int, state: dict[str, Any]) -> bytes:
    return json.dumps({"schema": SCHEMA, "kind": kind, "seq": seq, "state": state}).encode()


class Snapshots:
    """`every`: events folded or appended on a subject between two snapshots of it."""

    def __init__(
        self,
        bucket: KeyValueBucket,
        store: EventStore,
        *,
        every: int,
        codecs: dict[str, SnapshotCodec[Any]] | None = None,
    ) -> None:
        if every < 1:
            raise ValueError("snapshots are taken every 1 or more events")
        self._bucket = bucket
        self._store = store
        self._every = every
        self._codecs = CODECS if codecs is None else codecs
        self._since: dict[str, int] = {}  # subject -> events since its last snapshot
        self._writing: set[asyncio.Task[None]] = set()
        self._warned: set[str] = set()

    def applies(self, aggregate: Aggregate[S, C]) -> bool:
        return aggregate.kind in self._codecs

    async def read(self, aggregate: Aggregate[S, C], subject: str) -> tuple[S, int] | None:
        """The subject's snapshot (state, sequence), None when there is none to trust."""
        codec = self._codecs.get(aggregate.kind)
        if codec is None:
            return None
        try:
            entry = await self._bucket.get(subject)
            if entry is None:
                return None
            snapshot = json.loads(entry.value)
            if snapshot.get("schema") != SCHEMA or snapshot.get("kind") != aggregate.kind:
                self._warn("schema", "snapshot of another schema ignored", subject)
                return None
            seq = int(snapshot["seq"])
            state = cast(S, codec.load(snapshot["state"]))
            last = await self._store.last_message(subject)
        except StoreUnavailable as error:
            self._warn("read", f"snapshot not read: {error}", subject)
            return None
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            self._warn("corrupt", f"snapshot not readable, ignored: {error!r}", subject)
            return None
        if last is None or last.seq < seq:
            self._warn("ahead", "snapshot beyond the subject's last event, ignored", subject)
            return None
        # Read from its snapshot: the process did not hold it (a cold start, or a state the
        # cache could not keep, which is read again and again): its next snapshot comes
        # after a tenth as many events, counting those read past this one, so a load of a
        # hot subject the cache does not hold reads ~every/20 events, not ~every/2.
        self._since[subject] = self._every - max(1, self._every // REFRESH_SHARE)
        return state, seq

    def folded(
        self, aggregate: Aggregate[S, C], subject: str, state: S, seq: int, events: int
    ) -> None:
        """`events` more were folded into `state` (current as of `seq`); every `every` of
        them, a snapshot is written in the background."""
        codec = self._codecs.get(aggregate.kind)
        if codec is None or events == 0:
            return
        since = self._since.get(subject, 0) + events
        if since < self._every:
            if len(self._since) >= MAX_TRACKED and subject not in self._since:
                self._since.clear()
            self._since[subject] = since
            return
        self._since[subject] = 0
        payload = encode_snapshot(aggregate.kind, seq, codec.dump(state))
        if len(payload) > MAX_BYTES:
            self._warn("size", f"state of {len(payload)} bytes not snapshotted", subject)
            return
        task = asyncio.create_task(self._write(subject, payload))
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)

    async def _write(self, subject: str, payload: bytes) -> None:
        try:
            await self._bucket.put(subject, payload)
        except StoreUnavailable as error:
            self._warn("write", f"snapshot not written: {error}", subject)

    async def flush(self) -> None:
        """Waits for the snapshots being written (tests, and a process that stops)."""
        if self._writing:
            await asyncio.gather(*self._writing, return_exceptions=True)

    def _warn(self, kind: str, message: str, subject: str) -> None:
        level = logging.WARNING if kind not in self._warned else logging.DEBUG
        self._warned.add(kind)
        log.log(level, message, extra={"subject": subject})
