"""A delivered message read from its six headers (`projections.own_headers`) yields what the
dict of every header yields: the same fact, the same error, the same headers when they are
asked for; and any block not laid out as Tally writes it is read through the dict."""

from decimal import Decimal

import pytest

from events.base import Event
from events.codec import encode, encode_header_lines
from events.envelope import (
    CAUSATION_ID,
    CORRELATION_ID,
    EVENT_TYPE,
    EVENT_VERSION,
    MSG_ID,
    OCCURRED_AT,
    Envelope,
)
from events.orders import OrderConfirmed, OrderLine, OrderPlaced
from events.stock import StockReceived
from events.writer import WRITER
from projections.facts import decode_fact
from projections.messages import BATCH_COMMIT, BATCH_ID, StoredMessage, complete_prefix, from_raw
from projections.own_headers import alone, own_headers
from projections.wire import ack_metadata, parse_headers

REPLY = b"$JS.ACK.ORDERS.orders.1.42.40.1764567890123456789.7"
LINE = OrderLine(sku="sku-1", quantity=2, unit_price=Decimal("12.50"))
PLACED = OrderPlaced(customer_id="c", currency="EUR", lines=(LINE,), total=Decimal(25))


def block_of(lines: list[tuple[str, str]]) -> bytes:
    """A header block as nats-py writes a dict of headers."""
    return ("NATS/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in lines) + "\r\n").encode()


def written(event: Event, **envelope: str) -> tuple[bytes, list[tuple[str, str]]]:
    data, headers = encode(event, Envelope(**envelope))  # type: ignore[arg-type]
    return data, list(headers.items())


def as_the_dict_reads(block: bytes, data: bytes) -> StoredMessage:
    """What the projector made of a message before: every header parsed, then decoded."""
    reply = REPLY.decode()
    stream, seq, deliveries, consumer_seq = ack_metadata(reply)
    message = StoredMessage(
        stream,
        seq,
        "orders.o-1",
        data,
        parse_headers(block),
        reply,
        deliveries,
        None,
        None,
        consumer_seq,
    )
    try:
        message.fact = message.decode()
    except ValueError as failure:
        message.error = str(failure)
    return message


def arrived(block: bytes | None, data: bytes) -> StoredMessage:
    return from_raw(b"orders.o-1", REPLY, block, data, decode=True)


def test_the_block_the_write_side_writes_is_read_from_its_six_headers() -> None:
    envelope = Envelope(causation_id="cause")
    data, headers = encode(PLACED, envelope)
    lines = encode_header_lines(PLACED, envelope, data)
    block = f"NATS/1.0\r\n{lines}Nats-Expected-Last-Subject-Sequence: 7\r\n\r\n".encode()
    own = own_headers(block)
    assert own is not None and not alone(own)  # the expected sequence follows the six
    assert [value.strip() for value in own[:6]] == [
        envelope.event_id_text,
        "OrderPlaced",
        str(PLACED.schema_version),
        envelope.correlation_id,
        envelope.occurred_text,
        headers[WRITER],
    ]
    message = arrived(block, data)
    assert message.fact is not None and message.fact.data == PLACED.model_dump(mode="json")
    assert message == as_the_dict_reads(block, data)
    assert message.headers == parse_headers(block)
    assert message.headers[CAUSATION_ID] == "cause"


@pytest.mark.parametrize(
    "change",
    [
        "none",
        "spaces around values",
        "no space after the colons",
        "a header named again later",
        "order changed",
        "another status line",
        "a wrong mark",
        "another version",
        "an empty correlation id",
        "an unknown type",
        "no headers",
    ],
)
def test_whatever_the_block_the_message_is_what_the_dict_makes_of_it(change: str) -> None:
    data, lines = written(OrderConfirmed(authorization_id="a"))
    block = block_of(lines)
    if change == "spaces around values":
        block = block_of([(k, f" {v} \t") for k, v in lines])
    elif change == "no space after the colons":
        block = block.replace(b": ", b":")
    elif change == "a header named again later":
        block = block[:-2] + f"{EVENT_TYPE}: OrderShipped\r\n\r\n".encode()
    elif change == "order changed":
        block = block_of([lines[1], lines[0], *lines[2:]])
    elif change == "another status line":
        block = block.replace(b"NATS/1.0\r\n", b"NATS/1.0 100 Idle\r\n")
    elif change == "a wrong mark":
        block = block_of([(k, "0" * 24 if k == WRITER else v) for k, v in lines])
    elif change == "another version":
        block = block_of([(k, "9" if k == EVENT_VERSION else v) for k, v in lines])
    elif change == "an empty correlation id":
        block = block_of([(k, "" if k == CORRELATION_ID else v) for k, v in lines])
    elif change == "an unknown type":
        block = block_of([(k, "Nothing" if k == EVENT_TYPE else v) for k, v in lines])
    message = arrived(None if change == "no headers" else block, data)
    expected = as_the_dict_reads(b"" if change == "no headers" else block, data)
    assert message == expected
    not_as_written = (
        "a header named again later",
        "order changed",
        "another status line",
        "no space after the colons",
    )
    assert (own_headers(block) is None) == (change in not_as_written)
    not_an_event = ("another version", "an empty correlation id", "an unknown type", "no headers")
    assert (message.fact is None) == (change in not_an_event)
    if change == "a header named again later":  # the dict keeps the last value
        assert own_headers(block) is None and message.fact is not None
        assert message.fact.type == "OrderShipped"
    if change == "spaces around values":
        assert own_headers(block) is not None
        assert message.fact is not None and message.fact.type == "OrderConfirmed"


def test_the_six_values_give_the_fact_the_headers_give() -> None:
    for event in (PLACED, OrderConfirmed(authorization_id="a"), StockReceived(quantity=3)):
        data, lines = written(event)
        block = block_of(lines)
        message = arrived(block, data)
        where = {"stream": "ORDERS", "seq": 42, "subject": "orders.o-1"}
        assert message.fact == decode_fact(data, dict(lines), **where)  # type: ignore[arg-type]
        assert dict(lines)[MSG_ID] and dict(lines)[OCCURRED_AT]


def test_an_atomic_batch_is_told_without_parsing_the_other_headers() -> None:
    data, lines = written(StockReceived(quantity=1))

    def message(seq: int, batch: str | None = None, commit: bool = False) -> StoredMessage:
        extra = [(BATCH_ID, batch)] if batch else []
        extra += [(BATCH_COMMIT, "1")] if commit else []
        reply = f"$JS.ACK.STOCK.stock.1.{seq}.{seq}.1764567890123456789.0".encode()
        return from_raw(b"stock.a", reply, block_of(lines + extra), data, decode=True)

    plain = [message(1), message(2)]
    assert not plain[0].may_be_in_batch() and plain[0]._headers is None  # never parsed
    assert plain[0]._unbatched  # told on arrival: nothing follows the six headers
    assert complete_prefix([*plain, message(3, "b"), message(4, "b", commit=True)]) == 4
    assert complete_prefix([*plain, message(3, "b"), message(4, "b")]) == 2
    assert complete_prefix([message(3, "b")]) == 0
    assert message(3, "b").may_be_in_batch()
    assert not message(3, "b")._unbatched


@pytest.mark.parametrize(
    "after",
    [
        "",
        "Nats-Batch-Id: b\r\n",
        "\r\nNats-Batch-Id: b\r\n",  # a stray empty line: the dict reads on past it
        "\r\nTally-Event-Type: OrderShipped\r\n",
    ],
)
def test_a_block_is_alone_only_when_it_ends_after_the_six(after: str) -> None:
    data, lines = written(StockReceived(quantity=1))
    block = block_of(lines)[:-2] + after.encode() + b"\r\n"
    own = own_headers(block)
    message = arrived(block, data)
    assert message == as_the_dict_reads(block, data)
    assert message.may_be_in_batch() == ("Batch" in after)
    assert (own is not None and alone(own)) == (after == "")
