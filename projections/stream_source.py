"""The whole of a stream, in order, from a sequence on: what a replay reads.

An ephemeral pull consumer (no acknowledgements, in memory, gone a minute after its reader
is) read by `PullReader`, so every message is parsed and decoded once, as it arrives, and
the credit of the pull requests is the back pressure. The stream's sequences have no holes
(events are never deleted), so a message that does not follow the last one taken means
something was lost in flight (a reconnect): the consumer is re-created where the reader
stands and nothing is skipped.
"""

import contextlib
import logging
from uuid import uuid4

from nats.aio.client import Client as NATS
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from projections.messages import StoredMessage
from projections.pull import PullReader

log = logging.getLogger("tally.replay")


class StreamSource:
    def __init__(self, nc: NATS, stream: str, *, prefetch: int) -> None:
        self._nc = nc
        self._stream = stream
        self._prefetch = prefetch
        self._reader: PullReader | None = None
        self._name = ""
        self._expected: int | None = None  # the sequence the next message must have

    async def open(self, start: int = 1) -> None:
        await self.close()
        self._name = f"replay-{uuid4().hex[:12]}"
        await self._nc.jetstream().add_consumer(
            self._stream,
            ConsumerConfig(
                name=self._name,
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=max(start, 1),
                ack_policy=AckPolicy.NONE,
                inactive_threshold=60.0,
                mem_storage=True,
            ),
        )
        self._reader = PullReader(self._nc, self._stream, self._name, prefetch=self._prefetch)
        await self._reader.start()
        self._expected = start if start > 1 else None

    async def close(self) -> None:
        if self._reader is None:
            return
        await self._reader.close()
        self._reader = None
        with contextlib.suppress(NotFoundError, TimeoutError):
            await self._nc.jetstream().delete_consumer(self._stream, self._name)

    async def take(self, limit: int, timeout: float) -> list[StoredMessage]:
        """Up to `limit` messages that follow the last ones taken; [] after `timeout` s."""
        if self._reader is None:
            raise RuntimeError("the stream source is not open")
        batch = await self._reader.take(limit, timeout)
        if not batch:
            return []
        if self._expected is not None and batch[0].seq != self._expected:
            log.warning(
                "replay read a gap, reading again from where it stands",
                extra={"expected": self._expected, "got": batch[0].seq},
            )
            await self.open(self._expected)
            return []
        self._expected = batch[-1].seq + 1
        return batch

    def put_back(self, messages: list[StoredMessage]) -> None:
        """Return messages to the front, to be taken again next."""
        if messages and self._reader is not None:
            self._reader.put_back(messages)
            self._expected = messages[0].seq
