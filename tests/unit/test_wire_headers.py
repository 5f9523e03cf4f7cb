"""Header blocks as they come off the wire (direct-get answers, deliveries), read as nats-py
reads them."""

from write_side.raw_inbox import header_value, parse_headers


def test_a_stored_message_keeps_every_header_and_colons_in_values() -> None:
    block = (
        b"NATS/1.0\r\nNats-Stream: STOCK\r\nNats-Subject: stock.S1\r\nNats-Sequence: 42\r\n"
        b"Tally-Occurred-At: 2026-11-30T14:00:00.000001Z\r\n\r\n"
    )
    assert parse_headers(block) == {
        "Nats-Stream": "STOCK",
        "Nats-Subject": "stock.S1",
        "Nats-Sequence": "42",
        "Tally-Occurred-At": "2026-11-30T14:00:00.000001Z",
    }


def test_an_inline_status_is_status_and_description() -> None:
    assert parse_headers(b"NATS/1.0 404 Message Not Found\r\n\r\n") == {
        "Status": "404",
        "Description": "Message Not Found",
    }
    end = b"NATS/1.0 204 EOB\r\nNats-Num-Pending: 3\r\nNats-Last-Sequence: 9\r\n\r\n"
    assert parse_headers(end) == {
        "Status": "204",
        "Description": "EOB",
        "Nats-Num-Pending": "3",
        "Nats-Last-Sequence": "9",
    }
    assert parse_headers(b"NATS/1.0 503\r\n\r\n") == {"Status": "503"}


def test_no_block_is_no_headers() -> None:
    assert parse_headers(None) == {} and parse_headers(b"") == {}


def test_one_header_is_read_as_the_parser_reads_it() -> None:
    block = (
        b"NATS/1.0\r\nTally-Event-Id: 7\r\nTally-Event-Type:  OrderConfirmed \r\n"
        b"Tally-Event-Types: X\r\n\r\n"
    )
    for name in (b"Tally-Event-Type", b"Tally-Event-Id", b"Tally-Event-Types"):
        assert header_value(block, name) == parse_headers(block)[name.decode()]
    assert header_value(block, b"Tally-Event") is None  # a whole name, not a prefix
    assert header_value(b"NATS/1.0\r\nA: b", b"A") == "b"  # an unterminated last line
    assert header_value(None, b"A") is None and header_value(b"", b"A") is None
    assert header_value(b"NATS/1.0 408 Request Timeout\r\n\r\n", b"Tally-Event-Type") is None
