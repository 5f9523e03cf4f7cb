"""Snapshots of stock items, on the in-memory store and bucket: taken every N events, a
cold process starts from one and folds only what came after it; one of an unknown schema,
one that cannot be read and one beyond the subject's last event are ignored; a bucket that
fails costs the snapshot, never the command."""

import json

from support.clock import FakeClock
from support.command_doubles import CountingStore
from write_side.aggregates import ORDER, STOCK_ITEM
from write_side.command_service import CommandService, Metadata
from write_side.domain.stock import ReceiveStock, ReleaseReservation, ReserveStock
from write_side.errors import StoreUnavailable
from write_side.in_memory import InMemoryKeyValue
from write_side.ports import KeyValueEntry
from write_side.snapshots import SCHEMA, Snapshots

META = Metadata(correlation_id="corr-1")
EVERY = 10


def bucket() -> InMemoryKeyValue:
    return InMemoryKeyValue(ttl=None, clock=FakeClock())


def service(store: CountingStore, kv: InMemoryKeyValue) -> tuple[CommandService, Snapshots]:
    snapshots = Snapshots(kv, store, every=EVERY)
    return CommandService(store, max_attempts=10, snapshots=snapshots), snapshots


async def history(store: CountingStore, kv: InMemoryKeyValue, orders: int) -> Snapshots:
    """A stock item with 1 receipt and `orders` reservations, half of them released."""
    shop, snapshots = service(store, kv)
    await shop.handle(STOCK_ITEM, "A", ReceiveStock(1000), META)
    for n in range(orders):
        await shop.handle(STOCK_ITEM, "A", ReserveStock(f"o{n}", 2), META)
        if n % 2:
            await shop.handle(STOCK_ITEM, "A", ReleaseReservation(f"o{n}"), META)
    await snapshots.flush()
    return snapshots


async def test_a_snapshot_is_taken_every_n_events_with_the_sequence_it_is_current_at() -> None:
    store, kv = CountingStore(), bucket()
    await history(store, kv, 8)  # 1 + 8 + 4 = 13 events: one snapshot, after the 10th

    entry = await kv.get("stock.A")
    assert entry is not None
    snapshot = json.loads(entry.value)
    assert snapshot["schema"] == SCHEMA and snapshot["kind"] == "sku"
    events = (await store.load("stock.A")).events
    assert snapshot["seq"] == events[EVERY - 1].seq
    assert snapshot["state"]["on_hand"] == 1000


async def test_a_cold_process_starts_from_the_snapshot_and_folds_what_came_after() -> None:
    store, kv = CountingStore(), bucket()
    await history(store, kv, 30)
    warm = CommandService(store, max_attempts=10)  # no snapshots: folds from sequence 1
    expected, last = await warm.load(STOCK_ITEM, "A")
    snapshot = json.loads((await kv.get("stock.A") or KeyValueEntry(b"", 0)).value)
    assert snapshot["seq"] < last  # events came after the newest snapshot

    store.reads.clear()
    cold, _ = service(store, kv)
    state, seq = await cold.load(STOCK_ITEM, "A")

    assert (state, seq) == (expected, last)
    assert store.reads == [("stock.A", snapshot["seq"] + 1)]
    await cold.handle(STOCK_ITEM, "A", ReserveStock("late", 1), META)  # and it appends on it
    assert (await warm.load(STOCK_ITEM, "A"))[0].reservations["late"] == 1


async def test_a_subject_read_from_its_snapshot_is_snapshotted_again_sooner() -> None:
    # Read from its snapshot, the subject was not held: it is snapshotted again after a
    # tenth as many events (1 here), those read past the snapshot included, so the next
    # process that does not hold it reads little past its snapshot.
    store, kv = CountingStore(), bucket()
    await history(store, kv, 30)  # 1 + 30 + 15 = 46 events: the newest snapshot at 40
    cold, snapshots = service(store, kv)

    _, last = await cold.load(STOCK_ITEM, "A")
    await snapshots.flush()

    snapshot = json.loads((await kv.get("stock.A") or KeyValueEntry(b"", 0)).value)
    assert last == 46 and snapshot["seq"] == last


async def test_aggregates_without_a_codec_are_never_snapshotted() -> None:
    store, kv = CountingStore(), bucket()
    _, snapshots = service(store, kv)
    assert snapshots.applies(STOCK_ITEM) and not snapshots.applies(ORDER)


async def overwrite(kv: InMemoryKeyValue, change: dict[str, object]) -> None:
    entry = await kv.get("stock.A")
    assert entry is not None
    await kv.put("stock.A", json.dumps({**json.loads(entry.value), **change}).encode())


async def cold_reads(store: CountingStore, kv: InMemoryKeyValue) -> list[tuple[str, int]]:
    store.reads.clear()
    cold, _ = service(store, kv)
    expected = await CommandService(store, max_attempts=10).load(STOCK_ITEM, "A")
    assert await cold.load(STOCK_ITEM, "A") == expected
    return store.reads[:-1]  # the reference load's read is the last


async def test_a_snapshot_of_an_unknown_schema_is_ignored() -> None:
    store, kv = CountingStore(), bucket()
    await history(store, kv, 20)
    await overwrite(kv, {"schema": SCHEMA + 1, "state": {"something": "else"}})
    assert await cold_reads(store, kv) == [("stock.A", 1)]


async def test_a_snapshot_that_cannot_be_read_is_ignored() -> None:
    store, kv = CountingStore(), bucket()
    await history(store, kv, 20)
    await overwrite(kv, {"state": {"sku": "A", "exists": True, "on_hand": 5}})
    assert await cold_reads(store, kv) == [("stock.A", 1)]
    await kv.put("stock.A", b"not json")
    assert await cold_reads(store, kv) == [("stock.A", 1)]


async def test_a_snapshot_whose_sums_disagree_is_ignored() -> None:
    store, kv = CountingStore(), bucket()
    await history(store, kv, 20)
    entry = await kv.get("stock.A")
    assert entry is not None
    state = json.loads(entry.value)["state"]
    await overwrite(kv, {"state": {**state, "reserved": state["reserved"] + 1}})
    assert await cold_reads(store, kv) == [("stock.A", 1)]


async def test_a_snapshot_beyond_the_subjects_last_event_is_never_trusted() -> None:
    store, kv = CountingStore(), bucket()
    await history(store, kv, 20)
    last = await store.last_message("stock.A")
    assert last is not None
    await overwrite(kv, {"seq": last.seq + 100})
    assert await cold_reads(store, kv) == [("stock.A", 1)]


class FailingBucket(InMemoryKeyValue):
    async def get(self, key: str) -> KeyValueEntry | None:
        raise StoreUnavailable("key-value bucket snapshots: gone")

    async def put(self, key: str, value: bytes) -> int:
        raise StoreUnavailable("key-value bucket snapshots: gone")


async def test_a_failing_bucket_costs_the_snapshot_not_the_command() -> None:
    store, kv = CountingStore(), FailingBucket(ttl=None, clock=FakeClock())
    snapshots = await history(store, kv, 20)  # writes fail in the background
    await snapshots.flush()

    cold, _ = service(store, kv)
    state, _ = await cold.load(STOCK_ITEM, "A")
    assert state.on_hand == 1000 and len(state.reservations) == 10
