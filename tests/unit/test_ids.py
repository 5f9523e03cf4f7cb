"""The fast ids (`events.ids`) are the ids `uuid` makes: name-based ones equal to uuid5
for every input (stored events' ids must not change: a repeated step must find its own
events), random ones shaped as uuid4's (version 4, RFC 4122 variant), never repeated, and
not repeated across a fork either."""

import os
import re
import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from events import ids
from write_side.command_service import EVENT_ID_NAMESPACE, deterministic_event_id

TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
NAMESPACES = [uuid.NAMESPACE_URL, uuid.NAMESPACE_DNS, EVENT_ID_NAMESPACE, uuid.UUID(int=0)]


@settings(max_examples=500)
@given(name=st.text(), namespace=st.sampled_from(NAMESPACES))
def test_name_ids_equal_uuid5(name: str, namespace: uuid.UUID) -> None:
    expected = uuid.uuid5(namespace, name)
    for made in (ids.name_uuid(namespace, name), ids.NameIds(namespace)(name)):
        assert made == expected
        assert str(made) == str(expected)
        assert made.version == 5 and made.variant == uuid.RFC_4122
        assert hash(made) == hash(expected) and made.bytes == expected.bytes


@settings(max_examples=300)
@given(
    key=st.text(min_size=1, max_size=300),
    subject=st.from_regex(r"(orders|stock|payments)\.[A-Za-z0-9_-]{1,64}", fullmatch=True),
    event_type=st.sampled_from(["OrderPlaced", "StockReserved", "PaymentAuthorized"]),
    index=st.integers(0, 99),
)
def test_event_ids_are_the_uuid5_ones(key: str, subject: str, event_type: str, index: int) -> None:
    expected = uuid.uuid5(EVENT_ID_NAMESPACE, f"{key}#{subject}#{event_type}#{index}")
    assert deterministic_event_id(key, subject, event_type, index) == expected


def test_event_ids_stored_before_are_made_again() -> None:
    assert str(EVENT_ID_NAMESPACE) == "0401b9d5-eed5-541c-a0e3-3d116c8fe762"
    made = deterministic_event_id("k", "stock.SKU-1", "StockReserved", 0)
    assert str(made) == "f8ae7bbd-affc-5ed3-a463-bd6488084640"
    order = "orders.0d8e1f2a-0000-4000-8000-000000000001"
    made = deterministic_event_id("order-7b0c", order, "PaymentAuthorized", 1)
    assert str(made) == "bed7fcdc-8be2-512a-ba2f-7052502e6be5"


def test_random_ids_are_version_4_and_never_repeat() -> None:
    count = 5000  # many refills of the pool
    texts = [ids.random_uuid_text() for _ in range(count)]
    objects = [ids.random_uuid() for _ in range(count)]
    hexes = [ids.random_hex() for _ in range(count)]
    assert len(set(texts) | {str(made) for made in objects}) == 2 * count
    assert len(set(hexes)) == count
    for text in texts:
        assert TEXT.fullmatch(text), text
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122
    for made in objects:
        assert TEXT.fullmatch(str(made)), made
        assert made.version == 4 and made.variant == uuid.RFC_4122
        assert made == uuid.UUID(str(made)) and made.is_safe == uuid.SafeUUID.unknown
    assert all(re.fullmatch(r"[0-9a-f]{32}", text) for text in hexes)


def test_every_variant_digit_is_made() -> None:
    digits = {ids.random_uuid_text()[19] for _ in range(400)}
    assert digits == set("89ab")


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    ids.random_uuid_text()  # the pool holds ids now
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child)
        os.write(writer, "".join(ids.random_uuid_text() for _ in range(10)).encode())
        os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    with os.fdopen(reader, "rb") as pipe:
        theirs = pipe.read().decode()
    ours = "".join(ids.random_uuid_text() for _ in range(10))
    assert len(theirs) == len(ours) == 360
    assert {theirs[at : at + 36] for at in range(0, 360, 36)}.isdisjoint(
        ours[at : at + 36] for at in range(0, 360, 36)
    )
