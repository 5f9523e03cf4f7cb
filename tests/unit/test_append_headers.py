"""The header block of a one-event append, written in one go, is byte for byte the one
made from the event's headers as a dict (what a batch and nats-py write), whatever the
envelope holds; the timestamp and writer-mark fast paths give what the general ones do."""

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from uuid import uuid4

import pytest

from events.base import Event
from events.codec import encode, encode_data, encode_headers
from events.envelope import Envelope, format_timestamp
from events.orders import OrderLine, OrderPlaced
from events.stock import StockReceived
from events.writer import models_digest, writer_mark
from write_side.event_store import EXPECTED_LAST_SUBJECT_SEQUENCE, single_block
from write_side.jetstream_wire import header_block
from write_side.ports import PendingEvent

PLACED = OrderPlaced(
    customer_id="c1",
    currency="EUR",
    lines=(OrderLine(sku="A", quantity=3, unit_price=Decimal("1.10")),),
    total=Decimal("3.30"),
)
TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.mark.parametrize("event", [PLACED, StockReceived(quantity=4)])
@pytest.mark.parametrize(
    "envelope",
    [
        Envelope(correlation_id="corr-1"),
        Envelope(correlation_id="corr-1", causation_id="cause-1"),
        Envelope(correlation_id=" padded ", causation_id="a\r\nb", traceparent=TRACE),
        Envelope(correlation_id="é ünïcode", causation_id="x\ny", traceparent=f" {TRACE}\r"),
        Envelope(correlation_id="", occurred_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ],
)
@pytest.mark.parametrize("expected_seq", [0, 1, 987_654_321])
def test_one_event_block_is_the_dict_block(
    event: Event, envelope: Envelope, expected_seq: int
) -> None:
    payload = encode_data(event)
    headers = {
        **encode_headers(event, envelope, payload),
        EXPECTED_LAST_SUBJECT_SEQUENCE: str(expected_seq),
    }
    block = single_block(PendingEvent(event, envelope), payload, expected_seq)
    assert block == header_block(headers)
    assert encode(event, envelope)[0] == payload


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 11, 22, 3, 48, 41, 123456, tzinfo=UTC),
        datetime(2026, 11, 22, 3, 48, 41, tzinfo=UTC),  # no microseconds: still six digits
        datetime(2026, 11, 22, 4, 48, 41, 5, tzinfo=timezone(timedelta(hours=1))),
        datetime(2026, 11, 22, 3, 48, 41, 5, tzinfo=timezone(timedelta(0), "Z")),
    ],
)
def test_timestamps_are_utc_with_microseconds(moment: datetime) -> None:
    general = moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
    assert format_timestamp(moment) == general + "Z"


def test_the_writer_mark_is_the_keyed_digest_of_the_body() -> None:
    for body in (b"", b"{}", encode_data(PLACED), uuid4().bytes * 40):
        keyed = hashlib.blake2b(body, key=models_digest()[:32], digest_size=12)
        assert writer_mark(body) == keyed.hexdigest()
