"""An aggregate's events straight from JetStream, by batch direct get (nats-py has no
helper): `{"seq", "batch", "next_by_subj"}` to `$JS.API.DIRECT.GET.<STREAM>`, answered by
up to `batch` messages and an end-of-batch status 204 (`Nats-Num-Pending`), or 404; and
the last sequence of a stream. Every read is bounded by `timeout`, and whatever nats-py
raises is translated here into `StreamUnavailable`.

Reads as of a point: nats-server 2.15 honours `up_to_seq` / `up_to_time` in a
`multi_last` request (the last message of a subject at or before a sequence or a time),
but ignores them in a batch `next_by_subj` read (checked here: the whole subject comes
back). So `last_at` asks the server which message was the subject's last at a time, and
`read_subject(..., up_to=seq)` stops at that sequence itself.
"""

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from events.codec import DecodeError, decode
from events.envelope import (
    CAUSATION_ID,
    CORRELATION_ID,
    EVENT_TYPE,
    EVENT_VERSION,
    OCCURRED_AT,
)
from read_side.errors import StreamUnavailable

BATCH = 1000
Stored = tuple[int, bytes, dict[str, str]]


class StreamReadError(Exception):
    """The server answered a direct get with an error status."""


LIBRARY_ERRORS = (nats.errors.Error, OSError, TimeoutError, StreamReadError)


async def read_subject(
    nc: NATS, stream: str, subject: str, *, timeout: float, up_to: int | None = None
) -> list[Stored]:
    """(seq, data, headers) of every message on `subject` (up to sequence `up_to`, when
    given), in stream order."""
    try:
        async with asyncio.timeout(timeout):
            return await _read_subject(nc, stream, subject, timeout, up_to)
    except LIBRARY_ERRORS as error:
        raise StreamUnavailable.because(error) from error


async def last_sequence(nc: NATS, stream: str, *, timeout: float) -> int:
    try:
        async with asyncio.timeout(timeout):
            info = await nc.jetstream(timeout=timeout).stream_info(stream)
    except LIBRARY_ERRORS as error:
        raise StreamUnavailable.because(error) from error
    return int(info.state.last_seq)


async def last_of(nc: NATS, stream: str, subjects: str, *, timeout: float) -> int:
    """The sequence of the last message on `subjects` (a filter); 0 when there is none."""
    try:
        async with asyncio.timeout(timeout):
            found = await nc.jetstream(timeout=timeout).get_last_msg(stream, subjects)
    except nats.js.errors.NotFoundError:
        return 0
    except LIBRARY_ERRORS as error:
        raise StreamUnavailable.because(error) from error
    return int(found.seq or 0)


async def next_sequence(
    nc: NATS, stream: str, subjects: str, after: int, *, timeout: float
) -> int | None:
    """The sequence of the first message on `subjects` (a filter) after `after`; None."""
    try:
        async with asyncio.timeout(timeout):
            found = await nc.jetstream(timeout=timeout).get_msg(
                stream, seq=after + 1, subject=subjects, next=True
            )
    except nats.js.errors.NotFoundError:
        return None
    except LIBRARY_ERRORS as error:
        raise StreamUnavailable.because(error) from error
    return int(found.seq or 0)


async def last_at(
    nc: NATS, stream: str, subject: str, moment: datetime, *, timeout: float
) -> int | None:
    """The sequence of the last message on `subject` stored at or before `moment` (the
    server's clock); None when there was none yet."""
    when = moment.astimezone(UTC).isoformat().replace("+00:00", "Z")  # a 4-digit year
    request = {"multi_last": [subject], "up_to_time": when}
    try:
        async with asyncio.timeout(timeout):
            answer = await nc.request(
                f"$JS.API.DIRECT.GET.{stream}", json.dumps(request).encode(), timeout=timeout
            )
    except LIBRARY_ERRORS as error:
        raise StreamUnavailable.because(error) from error
    headers = dict(answer.headers or {})
    status = headers.get("Status")
    if status == "404":
        return None
    if status is not None or "Nats-Sequence" not in headers:
        refused = StreamReadError(f"direct get: {status} {headers.get('Description')}")
        raise StreamUnavailable.because(refused)
    return int(headers["Nats-Sequence"])


async def _read_subject(
    nc: NATS, stream: str, subject: str, timeout: float, up_to: int | None
) -> list[Stored]:
    found: list[Stored] = []
    queue: asyncio.Queue[Msg] = asyncio.Queue()

    async def collect(msg: Msg) -> None:
        queue.put_nowait(msg)

    inbox = nc.new_inbox()
    subscription = await nc.subscribe(inbox, cb=collect)
    try:
        seq = 1
        while True:
            request = json.dumps({"seq": seq, "batch": BATCH, "next_by_subj": subject})
            await nc.publish(f"$JS.API.DIRECT.GET.{stream}", request.encode(), reply=inbox)
            while True:
                msg = await asyncio.wait_for(queue.get(), timeout)
                headers = dict(msg.headers or {})
                status = headers.get("Status")
                if status == "404":
                    return found
                if status == "204":
                    if int(headers.get("Nats-Num-Pending", "0")) == 0:
                        return found
                    seq = found[-1][0] + 1
                    break
                if status is not None:
                    raise StreamReadError(f"direct get: {status} {headers.get('Description')}")
                number = int(headers["Nats-Sequence"])
                if up_to is not None and number > up_to:
                    return found
                found.append((number, msg.data, headers))
    finally:
        await subscription.unsubscribe()


def describe(stream: str, subject: str, seq: int, data: bytes, headers: dict[str, str]) -> Any:
    """One item of an `/events` answer; events of old versions are shown upcast."""
    try:
        recorded = decode(data, headers, stream=stream, seq=seq, subject=subject)
    except DecodeError:
        version = headers.get(EVENT_VERSION, "")
        return {
            "seq": seq,
            "type": headers.get(EVENT_TYPE),
            "version": int(version) if (version.isascii() and version.isdigit()) else None,
            "occurred_at": headers.get(OCCURRED_AT),
            "correlation_id": headers.get(CORRELATION_ID),
            "causation_id": headers.get(CAUSATION_ID),
            "data": None,
        }
    return {
        "seq": seq,
        "type": recorded.event_type,
        "version": recorded.event.schema_version,
        "occurred_at": recorded.envelope.occurred_text,
        "correlation_id": recorded.envelope.correlation_id,
        "causation_id": recorded.envelope.causation_id,
        "data": recorded.event.model_dump(mode="json"),
    }
