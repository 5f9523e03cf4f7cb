"""The breaker's state for other processes: kept in a small key-value bucket on every
transition, so `tally status` can show it without talking to the fulfilment process."""

import asyncio
import json
import logging
import time
from dataclasses import asdict, replace
from typing import Any

from nats.js import JetStreamContext
from nats.js.errors import BucketNotFoundError, KeyNotFoundError

from write_side.errors import StoreUnavailable
from write_side.fulfilment.breaker import BreakerSnapshot, CircuitBreaker
from write_side.key_value import JetStreamKeyValue, open_key_value
from write_side.ports import KeyValueBucket

log = logging.getLogger("tally.fulfilment")
BUCKET = "tally_fulfilment"
BREAKER_KEY = "payment_breaker"


async def open_status_bucket(js: JetStreamContext, *, replicas: int = 1) -> JetStreamKeyValue:
    return await open_key_value(
        js, BUCKET, ttl_seconds=None, replicas=replicas, description="Tally fulfilment status"
    )


class BreakerStatusPublisher:
    """Writes the latest snapshot to the bucket; writes never block the caller and a
    newer snapshot replaces one still waiting to be written."""

    def __init__(self, kv: KeyValueBucket, breaker: CircuitBreaker) -> None:
        self._kv = kv
        self._latest: BreakerSnapshot | None = None
        self._wake = asyncio.Event()
        breaker.subscribe(self._on_change)

    def _on_change(self, snapshot: BreakerSnapshot) -> None:
        self._latest = snapshot
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            waiter = asyncio.create_task(self._wake.wait())
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({waiter, stopping}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            stopping.cancel()
            await self._flush()

    async def _flush(self) -> None:
        self._wake.clear()
        snapshot = self._latest
        if snapshot is None:
            return
        record = {**asdict(snapshot), "updated_at": time.time()}
        try:
            await self._kv.put(BREAKER_KEY, json.dumps(record).encode())
        except StoreUnavailable as error:
            log.warning("could not publish the breaker state: %s", error)


async def read_breaker_status(js: JetStreamContext) -> dict[str, Any] | None:
    """The last breaker state a fulfilment process published, or None if none did.
    `updated_at` (Unix time) tells how fresh it is."""
    try:
        kv = await js.key_value(BUCKET)
        entry = await kv.get(BREAKER_KEY)
    except (BucketNotFoundError, KeyNotFoundError):
        return None
    if entry.value is None:
        return None
    record: dict[str, Any] = json.loads(entry.value)
    return record


def reported_snapshot(record: dict[str, Any], now: float) -> tuple[BreakerSnapshot, float]:
    """The breaker as it stands at `now` from what `read_breaker_status` returned (an open
    breaker whose wait is over lets a trial through: half-open), and the report's age."""
    age = max(0.0, now - float(record.get("updated_at", now)))
    snapshot = BreakerSnapshot(
        state=record.get("state", "closed"),
        failures=int(record.get("failures", 0)),
        retry_after=max(0.0, float(record.get("retry_after", 0.0)) - age),
        opened_count=int(record.get("opened_count", 0)),
    )
    if snapshot.state == "open" and snapshot.retry_after == 0:
        snapshot = replace(snapshot, state="half_open")
    return snapshot, age


def describe_status(record: dict[str, Any] | None, now: float) -> str:
    """One line for `tally status` from what `read_breaker_status` returned."""
    if record is None:
        return "payment breaker: no fulfilment process has reported yet"
    snapshot, age = reported_snapshot(record, now)
    return f"payment breaker: {snapshot.describe()} (reported {age:.0f} s ago)"
