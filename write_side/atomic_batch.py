"""JetStream appends on the wire (`jetstream_wire.py`): one message, or an atomic batch
(ADR-50), which nats-py 2.16 has no helper for; the PubAck read from its bytes.

A batch's first message goes by request (an empty reply means "staged"), the middle ones by
plain publish, the last by request with `Nats-Batch-Commit: 1`; its JSON reply is the PubAck
of the whole batch. The expected-sequence header goes on the first message only. Either
every message is stored or none is.
"""

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from nats.aio.client import Client as NATS
from nats.js.errors import APIError, NoStreamResponseError

from events.ids import random_hex
from write_side.jetstream_wire import JetStreamWire, Reply, header_block
from write_side.ports import MAX_BATCH

BATCH_ID = "Nats-Batch-Id"
BATCH_SEQUENCE = "Nats-Batch-Sequence"
BATCH_COMMIT = "Nats-Batch-Commit"


class PubAck(NamedTuple):
    stream: str
    seq: int
    duplicate: bool


# the PubAck as nats-server writes it, read without a JSON parser (anything else: json)
_ACK = re.compile(
    rb'\{"stream":"([^"\\]+)",(?:"domain":"[^"\\]*",)?"seq":(\d+)(,"duplicate":true)?\}'
)


def read_ack(reply: Reply) -> PubAck:
    """The PubAck in `reply`; APIError (with `err_code`) for a refusal, NoStreamResponseError
    when no stream took the subject (a 503 status: none listens, or no leader right now)."""
    if reply.headers is None:
        plain = _ACK.fullmatch(reply.data)
        if plain is not None:
            return PubAck(plain[1].decode(), int(plain[2]), plain[3] is not None)
    answer = _answer(reply)
    return PubAck(str(answer["stream"]), int(answer["seq"]), bool(answer.get("duplicate")))


async def append_one(
    wire: JetStreamWire, subject: str, payload: bytes, headers: bytes, *, timeout: float
) -> PubAck:
    return read_ack(await wire.request(subject, headers, payload, timeout=timeout))


async def append_batch(
    wire: JetStreamWire,
    subject: str,
    messages: Sequence[tuple[bytes, Mapping[str, str]]],
    *,
    first_headers: Mapping[str, str],
    timeout: float,
) -> PubAck:
    """Publishes `messages` on `subject` as one atomic batch; the PubAck of the whole."""
    if not 2 <= len(messages) <= MAX_BATCH:
        raise ValueError(f"an atomic batch holds 2..{MAX_BATCH} messages, not {len(messages)}")
    batch_id = random_hex()
    last = len(messages)
    for index, (payload, headers) in enumerate(messages, start=1):
        batch_headers = {**headers, BATCH_ID: batch_id, BATCH_SEQUENCE: str(index)}
        if index == 1:
            block = header_block({**batch_headers, **first_headers})
            staged = await wire.request(subject, block, payload, timeout=timeout)
            if staged.data or staged.status is not None:
                _answer(staged)  # raises the refusal
        elif index < last:
            wire.publish(subject, header_block(batch_headers), payload)
        else:
            batch_headers[BATCH_COMMIT] = "1"
            block = header_block(batch_headers)
            return read_ack(await wire.request(subject, block, payload, timeout=timeout))
    raise AssertionError("unreachable")


async def publish_batch(
    nc: NATS,
    subject: str,
    messages: Sequence[tuple[bytes, dict[str, str]]],
    *,
    first_headers: dict[str, str],
    timeout: float,
) -> dict[str, Any]:
    """`append_batch` on a connection of its own wire (tests and tools); the PubAck JSON."""
    wire = JetStreamWire(nc)
    await wire.start()
    try:
        ack = await append_batch(
            wire, subject, messages, first_headers=first_headers, timeout=timeout
        )
    finally:
        await wire.close()
    return {"stream": ack.stream, "seq": ack.seq}


def _answer(reply: Reply) -> dict[str, Any]:
    if reply.status == "503":
        raise NoStreamResponseError
    if reply.status is not None:
        raise APIError(code=int(reply.status), description=f"status {reply.status}")
    answer: dict[str, Any] = json.loads(reply.data)
    error = answer.get("error")
    if error:
        raise APIError(
            code=error.get("code"),
            err_code=error.get("err_code"),
            description=error.get("description"),
        )
    return answer
