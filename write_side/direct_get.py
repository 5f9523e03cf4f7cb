"""Reads one subject's messages with JetStream's batch direct get (nats-py has no helper),
and a subject's last message with a direct get of it.

`{"seq": from, "batch": N, "next_by_subj": subject}` to `$JS.API.DIRECT.GET.<STREAM>` answers
with up to N messages, then an end-of-batch status (204) whose `Nats-Num-Pending` says whether
more remain; 404 when there is nothing. The stream needs `allow_direct`.

A read from a sequence after the first asks for the one next message first (`{"seq": from,
"next_by_subj": subject}`, no batch), and for a batch only after it found one. A batch
request makes the server count the subject's messages from `from` on before it answers
(`NumPending`), and on a file-backed stream that count walks the stored messages after
`from`: 1.4-2.0 ms of nats-server's CPU per request on a stream of 30,000 messages, against
0.07 ms for the single get when nothing follows. Fulfilment's order read, one per order,
asks for what follows the delivered OrderPlaced and almost always finds nothing: it was a
fifth of nats-server's CPU at the confirm row's load (perf; docs/benchmarks.md, issue 15
and 12, session 10).

The requests go out on the connection's shared wire (`jetstream_wire.py`), in the same
socket write as the appends and acks of that loop iteration, and their answers come back on
its reply inbox as bytes: the header block of each message is read here, into what nats-py
would have made of it, without a `Msg` per message.

The last message of a subject is `$JS.API.DIRECT.GET.<STREAM>.<subject>` with no payload:
the message, or a 404 status when the subject has none. nats-py's `get_last_msg` makes a
JSON request through its generic request path (a reply subject, a future and a `Msg` of
its own) and, without `allow_direct`, an answer in base64 inside JSON; this is one frame
on the shared wire and one header block read.
"""

import json
from dataclasses import dataclass

from nats.aio.client import Client as NATS

from write_side.jetstream_wire import JetStreamWire
from write_side.raw_inbox import parse_headers

BATCH = 1024


@dataclass(frozen=True)
class StoredMessage:
    seq: int
    subject: str
    data: bytes
    headers: dict[str, str]


class DirectGetError(Exception):
    pass


class NoResponders(DirectGetError):
    """A 503 status: nobody serves direct gets of that stream right now (no stream, no
    `allow_direct`, no leader)."""


def stored_message(block: bytes | None, data: bytes) -> StoredMessage | None:
    """The message a direct get answered; None for a 404 (no such message); NoResponders
    for a 503, DirectGetError for any other status."""
    headers = parse_headers(block)
    status = headers.get("Status")
    if status is None:
        return StoredMessage(
            seq=int(headers["Nats-Sequence"]),
            subject=headers["Nats-Subject"],
            data=data,
            headers=headers,
        )
    if status == "404":
        return None
    error = f"direct get answered {status}: {headers.get('Description')}"
    raise NoResponders(error) if status == "503" else DirectGetError(error)


class _Batch:
    """One batch's answer as it arrives: its messages, then how many remain after it."""

    def __init__(self, messages: list[StoredMessage]) -> None:
        self.messages = messages
        self.remaining = 0

    def take(self, block: bytes | None, data: bytes) -> bool:
        headers = parse_headers(block)
        status = headers.get("Status")
        if status is None:
            self.messages.append(
                StoredMessage(
                    seq=int(headers["Nats-Sequence"]),
                    subject=headers["Nats-Subject"],
                    data=data,
                    headers=headers,
                )
            )
            return False
        if status == "404":
            self.remaining = 0
        elif status == "204":
            self.remaining = int(headers.get("Nats-Num-Pending", "0"))
        else:
            error = f"direct get answered {status}: {headers.get('Description')}"
            raise DirectGetError(error)
        return True


class DirectReader:
    def __init__(self, nc: NATS) -> None:
        self._wire = JetStreamWire.of(nc)

    async def read_subject(
        self, stream: str, subject: str, *, from_seq: int = 1, timeout: float = 2.0
    ) -> list[StoredMessage]:
        """Every message of `subject` in `stream` from `from_seq` on, in stream order."""
        if not self._wire.started:
            await self._wire.start()
        api = f"$JS.API.DIRECT.GET.{stream}"
        messages: list[StoredMessage] = []
        seq = from_seq
        if from_seq > 1:  # what follows a known sequence: usually nothing (see above)
            reply = await self._wire.request(api, b"", next_request(seq, subject), timeout=timeout)
            if reply.headers is None:
                raise DirectGetError(f"direct get answered without headers: {reply.data[:80]!r}")
            first = stored_message(reply.headers, reply.data)
            if first is None:
                return messages
            messages.append(first)
            seq = first.seq + 1
        while True:
            batch = _Batch(messages)
            request = batch_request(seq, subject)
            await self._wire.request_many(api, b"", request, batch.take, timeout=timeout)
            if batch.remaining == 0:
                return messages
            seq = messages[-1].seq + 1

    async def last_message(
        self, stream: str, subject: str, *, timeout: float = 2.0
    ) -> StoredMessage | None:
        """The last message of `subject` in `stream`, None when it has none. Any replica
        may answer (a follower may lag the leader)."""
        if not self._wire.started:
            await self._wire.start()
        api = f"$JS.API.DIRECT.GET.{stream}.{subject}"
        reply = await self._wire.request(api, b"", b"", timeout=timeout)
        if reply.headers is None:
            raise DirectGetError(f"direct get answered without headers: {reply.data[:80]!r}")
        return stored_message(reply.headers, reply.data)


def next_request(seq: int, subject: str) -> bytes:
    """`{"seq":…,"next_by_subj":…}`: the subject's first message from `seq` on, or a 404."""
    if '"' in subject or "\\" in subject or not subject.isprintable():
        return json.dumps({"seq": seq, "next_by_subj": subject}).encode()
    return b'{"seq":%d,"next_by_subj":"%s"}' % (seq, subject.encode())


def batch_request(seq: int, subject: str) -> bytes:
    """`{"seq":…,"batch":BATCH,"next_by_subj":…}`, written directly unless the subject
    holds a character JSON must escape (json.dumps then)."""
    if '"' in subject or "\\" in subject or not subject.isprintable():
        return json.dumps({"seq": seq, "batch": BATCH, "next_by_subj": subject}).encode()
    return b'{"seq":%d,"batch":%d,"next_by_subj":"%s"}' % (seq, BATCH, subject.encode())
