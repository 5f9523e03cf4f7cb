"""Reads one subject's messages with JetStream's batch direct get (nats-py has no helper).

`{"seq": from, "batch": N, "next_by_subj": subject}` to `$JS.API.DIRECT.GET.<STREAM>` answers
with up to N messages, then an end-of-batch status (204) whose `Nats-Num-Pending` says whether
more remain; 404 when there is nothing. The stream needs `allow_direct`.

One wildcard inbox subscription serves every read of the process; each read has its own
reply subject under it, so no read pays for a SUB/UNSUB round of its own.
"""

import asyncio
import itertools
import json
from dataclasses import dataclass

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

BATCH = 1024


@dataclass(frozen=True)
class StoredMessage:
    seq: int
    subject: str
    data: bytes
    headers: dict[str, str]


class DirectGetError(Exception):
    pass


class DirectReader:
    def __init__(self, nc: NATS) -> None:
        self._nc = nc
        self._prefix = nc.new_inbox()
        self._subscription: Subscription | None = None
        self._queues: dict[str, asyncio.Queue[Msg]] = {}
        self._ids = itertools.count()

    async def _ensure_subscribed(self) -> None:
        if self._subscription is None:
            self._subscription = await self._nc.subscribe(f"{self._prefix}.*", cb=self._route)

    async def _route(self, msg: Msg) -> None:
        queue = self._queues.get(msg.subject)
        if queue is not None:
            queue.put_nowait(msg)

    async def read_subject(
        self, stream: str, subject: str, *, from_seq: int = 1, timeout: float = 2.0
    ) -> list[StoredMessage]:
        """Every message of `subject` in `stream` from `from_seq` on, in stream order."""
        await self._ensure_subscribed()
        reply = f"{self._prefix}.{next(self._ids)}"
        queue: asyncio.Queue[Msg] = asyncio.Queue()
        self._queues[reply] = queue
        messages: list[StoredMessage] = []
        try:
            seq = from_seq
            while True:
                request = json.dumps({"seq": seq, "batch": BATCH, "next_by_subj": subject})
                await self._nc.publish(
                    f"$JS.API.DIRECT.GET.{stream}", request.encode(), reply=reply
                )
                if await _drain_batch(queue, messages, timeout) == 0:
                    return messages
                seq = messages[-1].seq + 1
        finally:
            del self._queues[reply]


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
