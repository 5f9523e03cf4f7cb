"""The dead-letter stream: events a projection could not decode or apply, copied with
their headers, where they came from and the error. `tally dlq list | retry | drop`."""

import re
from dataclasses import dataclass
from datetime import datetime

from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    RawStreamMsg,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import APIError, NotFoundError

from projections.messages import StoredMessage

DLQ_STREAM = "DLQ"
DLQ_SUBJECTS = "tally.dlq.>"
PROJECTION = "Tally-Dlq-Projection"
SOURCE_STREAM = "Tally-Dlq-Stream"
SOURCE_SEQ = "Tally-Dlq-Seq"
SOURCE_SUBJECT = "Tally-Dlq-Subject"
SOURCE_MSG_ID = "Tally-Dlq-Msg-Id"
ERROR = "Tally-Dlq-Error"
ATTEMPTS = "Tally-Dlq-Attempts"
_UNSAFE = re.compile(r"[\r\n\x00-\x1f]+")


def dlq_subject(projection: str) -> str:
    return f"tally.dlq.{projection}"


def dlq_stream_config(*, replicas: int = 1) -> StreamConfig:
    return StreamConfig(
        name=DLQ_STREAM,
        subjects=[DLQ_SUBJECTS],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        num_replicas=replicas,
        allow_direct=True,
        duplicate_window=600.0,
    )


async def ensure_dlq_stream(js: JetStreamContext, *, replicas: int = 1) -> None:
    """Create the stream or bring it to the wanted configuration (`tally migrate`)."""
    config = dlq_stream_config(replicas=replicas)
    try:
        await js.stream_info(DLQ_STREAM)
    except NotFoundError:
        await js.add_stream(config)
    else:
        await js.update_stream(config)


async def dead_letter(
    js: JetStreamContext, projection: str, message: StoredMessage, error: str, attempts: int
) -> int:
    """Copies `message` to the dead letters; the same event twice is stored once (dedupe by
    a message id made of projection, stream and sequence, within the duplicate window)."""
    headers = {key: value for key, value in message.headers.items() if not key.startswith("Nats-")}
    headers.update(
        {
            "Nats-Msg-Id": f"{projection}:{message.stream}:{message.seq}",
            PROJECTION: projection,
            SOURCE_STREAM: message.stream,
            SOURCE_SEQ: str(message.seq),
            SOURCE_SUBJECT: message.subject,
            ERROR: _UNSAFE.sub(" ", error)[:2000] or "error",
            ATTEMPTS: str(attempts),
        }
    )
    if "Nats-Msg-Id" in message.headers:
        headers[SOURCE_MSG_ID] = message.headers["Nats-Msg-Id"]
    ack = await js.publish(dlq_subject(projection), message.data, headers=headers)
    return int(ack.seq)


@dataclass(frozen=True)
class DeadLetter:
    seq: int
    projection: str
    error: str
    attempts: int
    original: StoredMessage
    dead_at: datetime | None = None  # when it was dead-lettered


def _letter(raw: RawStreamMsg) -> DeadLetter:
    # the original's Nats-* headers were not copied (but its id), a direct get adds some
    headers = {k: v for k, v in (raw.headers or {}).items() if not k.startswith("Nats-")}
    original_headers = {k: v for k, v in headers.items() if not k.startswith("Tally-Dlq-")}
    if SOURCE_MSG_ID in headers:
        original_headers["Nats-Msg-Id"] = headers[SOURCE_MSG_ID]
    return DeadLetter(
        seq=int(raw.seq or 0),
        projection=headers.get(PROJECTION, "?"),
        error=headers.get(ERROR, ""),
        attempts=int(headers.get(ATTEMPTS, "0")),
        original=StoredMessage(
            stream=headers.get(SOURCE_STREAM, "?"),
            seq=int(headers.get(SOURCE_SEQ, "0")),
            subject=headers.get(SOURCE_SUBJECT, ""),
            data=raw.data or b"",
            headers=original_headers,
        ),
        dead_at=raw.time,
    )


async def list_dead_letters(
    js: JetStreamContext,
    projection: str | None = None,
    *,
    after: int = 0,
    limit: int | None = None,
) -> list[DeadLetter]:
    """The dead letters in stream order, those after sequence `after`, at most `limit`."""
    letters: list[DeadLetter] = []
    seq = after + 1
    while limit is None or len(letters) < limit:
        try:
            raw = await js.get_msg(DLQ_STREAM, seq, subject=DLQ_SUBJECTS, next=True)
        except NotFoundError:
            break
        letter = _letter(raw)
        if projection is None or letter.projection == projection:
            letters.append(letter)
        seq = letter.seq + 1
    return letters


async def dead_letter_counts(js: JetStreamContext) -> dict[str, int]:
    """Dead letters by projection, counted per subject by the server (none read)."""
    try:
        info = await js.stream_info(DLQ_STREAM, subjects_filter=DLQ_SUBJECTS)
    except NotFoundError:
        return {}
    prefix = dlq_subject("")
    return {
        subject.removeprefix(prefix): count
        for subject, count in (info.state.subjects or {}).items()
    }


async def read_dead_letter(js: JetStreamContext, seq: int) -> DeadLetter | None:
    """Dead letter `seq`, or None when there is none (never was, or dropped)."""
    try:
        raw = await js.get_msg(DLQ_STREAM, seq, direct=True)
    except NotFoundError:
        return None
    return _letter(raw)


NO_MESSAGE = 10057  # JetStream's error code for deleting a message that is not there


async def drop_dead_letter(js: JetStreamContext, seq: int) -> bool:
    """True when dead letter `seq` was there and is deleted now."""
    try:
        return bool(await js.delete_msg(DLQ_STREAM, seq))
    except NotFoundError:
        return False
    except APIError as error:
        if error.err_code == NO_MESSAGE:
            return False
        raise
