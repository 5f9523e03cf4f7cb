# mypy: warn-unused-ignores
"""Commands are typed by aggregate: `Aggregate[S, C]` carries its command type C, so
`mypy --strict` (run by scripts/test) refuses a command sent to the wrong aggregate.

The proof is the `type: ignore[misc]` lines below (mypy: "Cannot infer value of type
parameter C": the aggregate fixes C, the command does not fit it). With warn-unused-ignores
(set above for this file, whatever pyproject says), mypy fails the build the day such a
call type-checks again, e.g. if an aggregate's command type became Any. At run time the
decider refuses the command too.
"""

from decimal import Decimal
from typing import assert_type
from uuid import uuid4

import pytest

from events.orders import OrderLine
from support.command_doubles import memory_store
from write_side.aggregates import ORDER, PAYMENT, STOCK_ITEM
from write_side.command_service import CommandResult, CommandService, Metadata
from write_side.domain.order import OrderState, PlaceOrder
from write_side.domain.payment import PaymentState, Refund
from write_side.domain.stock import ReceiveStock, ReserveStock, StockState

META = Metadata(correlation_id="typed")
PLACE = PlaceOrder("c", "EUR", (OrderLine(sku="a", quantity=1, unit_price=Decimal(1)),))


def service() -> CommandService:
    return CommandService(memory_store(), max_attempts=1)


async def test_a_command_answers_with_its_aggregates_state_type() -> None:
    received = await service().handle(STOCK_ITEM, "A", ReceiveStock(1), META)
    assert_type(received, CommandResult[StockState])
    placed = await service().handle(ORDER, str(uuid4()), PLACE, META)
    assert_type(placed.state, OrderState)
    state, _ = await service().load(PAYMENT, str(uuid4()))
    assert_type(state, PaymentState)


async def test_a_stock_command_is_refused_by_the_order_aggregate() -> None:
    with pytest.raises(TypeError):
        await service().handle(ORDER, str(uuid4()), ReserveStock("o1", 1), META)  # type: ignore[misc]


async def test_an_order_command_is_refused_by_the_stock_aggregate() -> None:
    with pytest.raises(TypeError):
        await service().handle(STOCK_ITEM, "A", PLACE, META)  # type: ignore[misc]


async def test_a_payment_command_is_refused_by_the_stock_aggregate() -> None:
    with pytest.raises(TypeError):
        await service().handle(STOCK_ITEM, "A", Refund(), META)  # type: ignore[misc]
