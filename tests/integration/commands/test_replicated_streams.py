"""The command service on streams replicated over three NATS servers (found by the chaos
run, issue 21). A follower answers direct gets too and may lag the leader; a known event
id is answered as a duplicate before the expected sequence is checked. Neither may make a
decision rest on old state:

- a refusal read from a lagging follower (stock "missing", "out of stock") was final,
  though the expected sequence only protects decisions that append;
- a step repeated by a second fulfilment process on its stale cached state got a
  duplicate answer naming a *newer* sequence, and the stale state was cached at that
  sequence: later reservations were decided on it and broke 0 <= reserved <= on_hand.
"""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS

from support.defaults import COMMAND_MAX_ATTEMPTS, TEST_NATS_TIMEOUT
from support.lagging_cluster import (
    LAGGING,
    connect,
    ensure_replicated_streams,
    lagging_cluster,
    lead_elsewhere,
    wait_current,
)
from tally.embedded import EmbeddedNats
from write_side.aggregates import STOCK_ITEM
from write_side.command_service import CommandService, Metadata
from write_side.domain import stock
from write_side.event_store import JetStreamEventStore

pytestmark = pytest.mark.integration
DELAY = 0.2  # nats-2 applies what the leader stores 200 ms late
META = Metadata(correlation_id="replicated")
ROUNDS = 8


def service(nc: NATS) -> CommandService:
    store = JetStreamEventStore(nc, timeout=TEST_NATS_TIMEOUT)
    return CommandService(store, max_attempts=COMMAND_MAX_ATTEMPTS)


@pytest.fixture
async def nodes(tmp_path: Path) -> AsyncIterator[list[EmbeddedNats]]:
    async with lagging_cluster(tmp_path) as lag:
        nc = await connect(lag.nodes[0])
        try:
            await ensure_replicated_streams(nc)
            await lead_elsewhere(nc, "STOCK")
            await wait_current(nc, "STOCK")
        finally:
            await nc.close()
        lag.set(DELAY)
        yield lag.nodes


async def test_a_lagging_follower_never_decides_a_command(nodes: list[EmbeddedNats]) -> None:
    # A direct get from nats-2's client is answered by nats-2 itself (stale) or by another
    # replica (current, a route away): about one read in five was stale without the fix.
    writer_nc, lagging_nc = await connect(nodes[0]), await connect(nodes[2])
    assert nodes[2].server_name == LAGGING
    try:
        writer, lagging = service(writer_nc), service(lagging_nc)
        for round_ in range(ROUNDS):
            sku = f"S{round_}"
            await writer.handle(STOCK_ITEM, sku, stock.ReceiveStock(5), META)
            # at once through nats-2, which applies the receipt 200 ms later:
            # the adjustment must not be refused (404: no such SKU), nor be decided on
            # nothing, whichever replica answers
            adjusted = await lagging.handle(STOCK_ITEM, sku, stock.AdjustStock(-1, "x"), META)
            assert (adjusted.state.on_hand, adjusted.position.seq) == (4, 2 * round_ + 2)
    finally:
        await writer_nc.close()
        await lagging_nc.close()


async def test_a_duplicate_never_caches_the_state_it_was_decided_on(
    nodes: list[EmbeddedNats],
) -> None:
    nc = await connect(nodes[0])
    try:
        first, twin = service(nc), service(nc)  # two fulfilment processes
        step = Metadata(correlation_id="order-o", idempotency_key="fulfil:o:reserve:S")
        await first.handle(STOCK_ITEM, "S", stock.ReceiveStock(5), META)
        await twin.load(STOCK_ITEM, "S")  # the twin caches on_hand 5 at sequence 1
        await first.handle(STOCK_ITEM, "S", stock.AdjustStock(-3, "damaged"), META)
        await first.handle(STOCK_ITEM, "S", stock.ReserveStock("o", 2), step)
        # the twin repeats the step on its stale cache: answered as a duplicate at 3
        repeated = await twin.handle(STOCK_ITEM, "S", stock.ReserveStock("o", 2), step)
        assert repeated.position.seq == 3
        assert (repeated.state.on_hand, repeated.state.reserved) == (2, 2)
        with pytest.raises(stock.OutOfStock):  # 2 on hand, 2 reserved: nothing left
            await twin.handle(STOCK_ITEM, "S", stock.ReserveStock("p", 1), META)
        state, last_seq = await service(nc).load(STOCK_ITEM, "S")
        assert (state.on_hand, state.reserved, last_seq) == (2, 2, 3)
    finally:
        await nc.close()
