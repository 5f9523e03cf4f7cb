"""JetStream atomic batch publish (ADR-50), which nats-py 2.16 has no helper for.

The first message goes by request (an empty reply means "staged"), the middle ones by plain
publish, the last by request with `Nats-Batch-Commit: 1`; its JSON reply is the PubAck of the
whole batch. The expected-sequence header goes on the first message only. Either every
message is stored or none is.
"""

import json
from collections.abc import Sequence
from typing import Any
from uuid import uuid4

from nats.aio.client import Client as NATS
from nats.js.errors import APIError

from write_side.ports import MAX_BATCH

BATCH_ID = "Nats-Batch-Id"
BATCH_SEQUENCE = "Nats-Batch-Sequence"
BATCH_COMMIT = "Nats-Batch-Commit"


async def publish_batch(
    nc: NATS,
    subject: str,
    messages: Sequence[tuple[bytes, dict[str, str]]],
    *,
    first_headers: dict[str, str],
    timeout: float,
) -> dict[str, Any]:
    """Publishes `messages` on `subject` as one atomic batch; returns the PubAck JSON.

    Raises `nats.js.errors.APIError` (with `err_code`) when the server refuses the batch.
    """
    if not 2 <= len(messages) <= MAX_BATCH:
        raise ValueError(f"an atomic batch holds 2..{MAX_BATCH} messages, not {len(messages)}")
    batch_id = uuid4().hex
    last = len(messages)
    for index, (payload, headers) in enumerate(messages, start=1):
        batch_headers = {**headers, BATCH_ID: batch_id, BATCH_SEQUENCE: str(index)}
        if index == 1:
            reply = await nc.request(
                subject, payload, timeout=timeout, headers={**batch_headers, **first_headers}
            )
            if reply.data:
                _raise_if_error(json.loads(reply.data))
        elif index < last:
            await nc.publish(subject, payload, headers=batch_headers)
        else:
            batch_headers[BATCH_COMMIT] = "1"
            reply = await nc.request(subject, payload, timeout=timeout, headers=batch_headers)
            ack: dict[str, Any] = json.loads(reply.data)
            _raise_if_error(ack)
            return ack
    raise AssertionError("unreachable")


def _raise_if_error(answer: dict[str, Any]) -> None:
    error = answer.get("error")
    if error:
        raise APIError(
            code=error.get("code"),
            err_code=error.get("err_code"),
            description=error.get("description"),
        )
