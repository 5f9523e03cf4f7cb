"""Reads one subject's messages with JetStream's batch direct get (nats-py has no helper).

`{"seq": from, "batch": N, "next_by_subj": subject}` to `$JS.API.DIRECT.GET.<STREAM>` answers
with up to N messages, then an end-of-batch status (204) whose `Nats-Num-Pending` says whether
more remain; 404 when there is nothing. The stream needs `allow_direct`.

One wildcard inbox subscription serves every read of the process; each read has its own
reply subject under it, so no read pays for a SUB/UNSUB round of its own. The messages of a
batch are collected by the subscription's callback as they arrive, and the reader waits on
one future per batch (resolved by the batch's status), not on a queue per message.
"""

import asyncio
import itertools
import json
from dataclasses import dataclass, field

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


@dataclass
class _Batch:
    """One batch's answer as it arrives: its messages, then how many remain after it."""

    messages: list[StoredMessage]
    remaining: asyncio.Future[int] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def take(self, msg: Msg) -> None:
        if self.remaining.done():
            return  # after the status (or a timeout): nobody reads this batch any more
        headers = dict(msg.headers or {})
        status = headers.get("Status")
        if status is None:
            self.messages.append(
                StoredMessage(
                    seq=int(headers["Nats-Sequence"]),
                    subject=headers["Nats-Subject"],
                    data=msg.data,
                    headers=headers,
                )
            )
        elif status == "404":
            self.remaining.set_result(0)
        elif status == "204":
            self.remaining.set_result(int(headers.get("Nats-Num-Pending", "0")))
        else:
            error = f"direct get answered {status}: {headers.get('Description')}"
            self.remaining.set_exception(DirectGetError(error))


class DirectReader:
    def __init__(self, nc: NATS) -> None:
        self._nc = nc
        self._prefix = nc.new_inbox()
        self._subscription: Subscription | None = None
        self._batches: dict[str, _Batch] = {}
        self._ids = itertools.count()

    async def _ensure_subscribed(self) -> None:
        if self._subscription is None:
            self._subscription = await self._nc.subscribe(f"{self._prefix}.*", cb=self._route)

    async def _route(self, msg: Msg) -> None:
        batch = self._batches.get(msg.subject)
        if batch is not None:
            batch.take(msg)

    async def read_subject(
        self, stream: str, subject: str, *, from_seq: int = 1, timeout: float = 2.0
    ) -> list[StoredMessage]:
        """Every message of `subject` in `stream` from `from_seq` on, in stream order."""
        await self._ensure_subscribed()
        reply = f"{self._prefix}.{next(self._ids)}"
        messages: list[StoredMessage] = []
        try:
            seq = from_seq
            while True:
                batch = self._batches[reply] = _Batch(messages)
                request = json.dumps({"seq": seq, "batch": BATCH, "next_by_subj": subject})
                await self._nc.publish(
                    f"$JS.API.DIRECT.GET.{stream}", request.encode(), reply=reply
                )
                if await asyncio.wait_for(batch.remaining, timeout) == 0:
                    return messages
                seq = messages[-1].seq + 1
        finally:
            self._batches.pop(reply, None)
