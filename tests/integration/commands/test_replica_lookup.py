"""The event store looks up whether a stream is replicated (a read then also asks the
leader). Found by the soak: when that lookup went unanswered (an overloaded server), it was
made again on every read, each waiting its timeout, each read then also asking the leader,
and `tally up` stopped answering for minutes. An unanswered lookup is now made again
seconds later, once for all the reads meanwhile."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NATS

from contract.event_store import received
from tally.embedded import EmbeddedNats
from write_side.event_store import JetStreamEventStore
from write_side.streams import StreamSettings, ensure_streams

pytestmark = pytest.mark.integration

# `reader` may do everything but ask for a stream's info: its lookups go unanswered, as
# they do when the JetStream API is overloaded; its reads (direct gets) are answered.
USERS = """authorization {
  users = [
    {user: admin, password: admin-secret}
    {user: reader, password: reader-secret,
     permissions: {publish: {allow: [">"], deny: ["$JS.API.STREAM.INFO.>"]}}}
  ]
}"""


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[EmbeddedNats]:
    embedded = EmbeddedNats(
        tmp_path / "nats", extra_config=USERS, probe_credentials=("admin", "admin-secret")
    )
    await asyncio.to_thread(embedded.start)
    try:
        yield embedded
    finally:
        await asyncio.to_thread(embedded.stop)


async def connect(url: str, user: str, refused: list[Exception] | None = None) -> NATS:
    async def on_error(error: Exception) -> None:
        if refused is not None and "stream.info" in str(error).lower():
            refused.append(error)

    return await nats.connect(url, user=user, password=f"{user}-secret", error_cb=on_error)


async def test_an_unanswered_replica_lookup_is_not_made_again_on_every_read(
    server: EmbeddedNats,
) -> None:
    admin = await connect(server.url, "admin")
    refused: list[Exception] = []
    reader = await connect(server.url, "reader", refused)
    try:
        await ensure_streams(admin.jetstream(), StreamSettings())
        await JetStreamEventStore(admin, timeout=2).append("stock.A", [received(1)], 0)
        store = JetStreamEventStore(reader, timeout=0.3)

        for _ in range(5):  # one after the other
            assert len((await store.load("stock.A")).events) == 1
        loads = await asyncio.gather(*(store.load("stock.A") for _ in range(10)))  # at once
        assert all(len(loaded.events) == 1 for loaded in loads)
        await asyncio.sleep(0.2)  # the server's refusals arrive asynchronously

        assert len(refused) == 1  # before: 15, one lookup per read, each waiting 0.3 s
    finally:
        await reader.close()
        await admin.close()
