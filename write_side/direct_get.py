"""Reads one subject's messages with JetStream's batch direct get (nats-py has no helper).

`{"seq": from, "batch": N, "next_by_subj": subject}` to `$JS.API.DIRECT.GET.<STREAM>` answers
with up to N messages, then an end-of-batch status (204) whose `Nats-Num-Pending` says whether
more remain; 404 when there is nothing. The stream needs `allow_direct`.
"""

import asyncio
import json
from dataclasses import dataclass

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

BATCH = 1024


@dataclass(frozen=True)
class StoredMessage:
    seq: int
    subject: str
    data: bytes
    headers: dict[str, str]


class DirectGetError(Exception):
    pass


async def read_subject(
    nc: NATS, stream: str, subject: str, *, from_seq: int = 1, timeout: float = 2.0
) -> list[StoredMessage]:
    """Every message of `subject` in `stream` from `from_seq` on, in stream order."""
    messages: list[StoredMessage] = []
    queue: asyncio.Queue[Msg] = asyncio.Queue()

    async def collect(msg: Msg) -> None:
        queue.put_nowait(msg)

    inbox = nc.new_inbox()
    subscription = await nc.subscribe(inbox, cb=collect)
    try:
        seq = from_seq
        while True:
            request = json.dumps({"seq": seq, "batch": BATCH, "next_by_subj": subject})
            await nc.publish(f"$JS.API.DIRECT.GET.{stream}", request.encode(), reply=inbox)
            pending = await _drain_batch(queue, messages, timeout)
            if pending == 0:
                return messages
            seq = messages[-1].seq + 1
    finally:
        await subscription.unsubscribe()


async def _drain_batch(
    queue: asyncio.Queue[Msg], messages: list[StoredMessage], timeout: float
) -> int:
    """Collects one batch into `messages`; returns how many remain after it."""
    while True:
        msg = await asyncio.wait_for(queue.get(), timeout)
        headers = dict(msg.headers or {})
        status = headers.get("Status")
        if status == "404":
            return 0
        if status == "204":
            return int(headers.get("Nats-Num-Pending", "0"))
        if status is not None:
            raise DirectGetError(f"direct get answered {status}: {headers.get('Description')}")
        messages.append(
            StoredMessage(
                seq=int(headers["Nats-Sequence"]),
                subject=headers["Nats-Subject"],
                data=msg.data,
                headers=headers,
            )
        )
