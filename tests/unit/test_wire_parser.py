"""`projections.wire_parser` against nats-py's own parser: the same messages, in the same
order, whatever the chunk boundaries; a raw sink's messages go to the sink, everything
else (other subscriptions, PING, PONG, +OK, INFO, -ERR) to the client as before."""

from __future__ import annotations

import pytest
from nats.errors import ProtocolError
from nats.protocol.parser import Parser

from projections import wire_parser

HEADERS = b"NATS/1.0\r\nTally-Event-Type: StockReceived\r\nNats-Msg-Id: m-1\r\n\r\n"
Delivered = tuple[str, int, bytes, bytes, bytes, bytes | None]


def _hmsg(subject: bytes, sid: int, reply: bytes, headers: bytes, body: bytes) -> bytes:
    reply_part = reply + b" " if reply else b""
    size = len(headers) + len(body)
    line = b"HMSG %s %d %s%d %d\r\n" % (subject, sid, reply_part, len(headers), size)
    return line + headers + body + b"\r\n"


def _msg(subject: bytes, sid: int, reply: bytes, body: bytes) -> bytes:
    reply_part = reply + b" " if reply else b""
    return b"MSG %s %d %s%d\r\n" % (subject, sid, reply_part, len(body)) + body + b"\r\n"


def _stream() -> bytes:
    parts = [b'INFO {"server_id":"x","max_payload":1048576}\r\n', b"+OK\r\n"]
    for index in range(40):
        reply = b"$JS.ACK.STOCK.c.1.%d.%d.0.0" % (index + 1, index + 1)
        body = b'{"quantity":%d}' % index
        parts.append(_hmsg(b"stock.SKU-%d" % index, 7, reply, HEADERS, body))
        if index % 7 == 0:
            parts.append(_msg(b"_INBOX.other", 9, b"", b"plain %d" % index))
        if index % 11 == 0:
            parts.append(b"PING\r\n")
        if index % 13 == 0:
            parts.append(_hmsg(b"_INBOX.raw", 7, b"", b"NATS/1.0 408 Request Timeout\r\n\r\n", b""))
        if index % 17 == 0:
            parts.append(_msg(b"stock.empty", 7, b"r.%d" % index, b""))
    parts.append(b"PONG\r\n")
    parts.append(b"-ERR 'Unknown Protocol Operation'\r\n")
    parts.append(_hmsg(b"orders.o-1", 9, b"", HEADERS, b"{}"))
    return b"".join(parts)


class Client:
    """What the parser calls back on the client, recorded in order."""

    def __init__(self) -> None:
        self.seen: list[object] = []

    async def _process_msg(
        self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes | None
    ) -> None:
        self.seen.append(("msg", sid, bytes(subject), bytes(reply), data, headers))

    async def _process_ping(self) -> None:
        self.seen.append("ping")

    async def _process_pong(self) -> None:
        self.seen.append("pong")

    async def _process_info(self, info: dict[str, object]) -> None:
        self.seen.append(("info", info))

    async def _process_err(self, error: str) -> None:
        self.seen.append(("err", error))


async def _parse(chunks: list[bytes], *, fronted: bool) -> list[object]:
    """What the client and the raw sink (sid 7) were handed, in order, in one form."""
    client = Client()
    parser = Parser(client)
    if fronted:

        def sink(subject: bytes, reply: bytes, headers: bytes | None, body: bytes) -> None:
            client.seen.append(("msg", 7, subject, reply, body, headers))

        wire_parser.install(parser, {7: sink}, client._process_msg, lambda subject: None)
    for chunk in chunks:
        await parser.parse(chunk)
    return client.seen


def _raw_sid(item: object) -> bool:
    return isinstance(item, tuple) and item[0] == "msg" and item[1] == 7


@pytest.mark.parametrize("size", [1, 2, 5, 17, 64, 333, 4096, 1 << 20])
async def test_the_same_messages_in_the_same_order_whatever_the_chunks(size: int) -> None:
    data = _stream()
    chunks = [data[start : start + size] for start in range(0, len(data), size)]
    expected = await _parse(chunks, fronted=False)
    assert await _parse(chunks, fronted=True) == expected
    assert len([item for item in expected if _raw_sid(item)]) == 40 + 4 + 3


async def test_a_sink_takes_its_messages_and_the_client_the_others() -> None:
    client = Client()
    parser = Parser(client)
    raw: list[tuple[bytes, bytes, bytes | None, bytes]] = []
    wire_parser.install(
        parser, {7: lambda *message: raw.append(message)}, client._process_msg, lambda s: None
    )
    await parser.parse(_stream())
    assert len(raw) == 47
    assert raw[0] == (b"stock.SKU-0", b"$JS.ACK.STOCK.c.1.1.1.0.0", HEADERS, b'{"quantity":0}')
    assert (b"stock.empty", b"r.0", None, b"") in raw  # MSG without headers: None, as nats-py
    assert [item for item in client.seen if _raw_sid(item)] == []
    assert "ping" in client.seen and "pong" in client.seen


async def test_a_failing_sink_is_reported_and_the_next_messages_still_arrive() -> None:
    client = Client()
    parser = Parser(client)
    failed: list[bytes] = []
    taken: list[bytes] = []

    def sink(subject: bytes, reply: bytes, headers: bytes | None, body: bytes) -> None:
        if subject == b"stock.SKU-1":
            raise ValueError("boom")
        taken.append(subject)

    wire_parser.install(parser, {7: sink}, client._process_msg, failed.append)
    await parser.parse(_stream())
    assert failed == [b"stock.SKU-1"]
    assert b"stock.SKU-2" in taken


async def test_a_malformed_control_line_is_a_protocol_error() -> None:
    parser = Parser(Client())
    wire_parser.install(parser, {}, Client()._process_msg, lambda subject: None)
    with pytest.raises(ProtocolError):
        await parser.parse(b"HMSG subject seven 10 20\r\n")
