"""The pure parts of stream partitions (the server's agreement: tests/integration/commands/
test_partitioned_streams.py)."""

from events.partitions import (
    Layout,
    aggregate_subject,
    fnv1a_32,
    partition_of,
    partitions_in,
    transform_destination,
)


def test_fnv1a_32_known_values() -> None:
    assert fnv1a_32(b"") == 0x811C9DC5
    assert fnv1a_32(b"a") == 0xE40C292C
    assert fnv1a_32(b"foobar") == 0xBF9CF968


def test_layout_maps_aggregate_subjects_to_stored_ones_and_back() -> None:
    layout = Layout({"ORDERS": 4})
    stored = layout.stored("ORDERS", "orders.abc")
    assert stored == f"orders.{partition_of('abc', 4)}.abc"
    assert aggregate_subject(stored) == "orders.abc" == aggregate_subject("orders.abc")
    assert layout.stored("STOCK", "stock.sku-1") == "stock.sku-1"
    assert layout.partition_filter("orders", 2) == "orders.2.*"


def test_the_transform_destination_names_its_partition_count() -> None:
    destination = transform_destination("orders", 4)
    assert destination == "orders.{{partition(4,1)}}.{{wildcard(1)}}"
    assert partitions_in(destination) == 4 and partitions_in(None) == 1
    assert Layout.from_transforms({"ORDERS": destination, "STOCK": None}).count("ORDERS") == 4
