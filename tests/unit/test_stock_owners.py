"""The pure parts of stock commands taken to their SKU's owner: who owns a SKU, the request
and its answer on the wire, and the `TALLY_FULFIL_SHARD` setting."""

import zlib

import pytest
from pydantic import ValidationError

from tally.settings import Settings, fulfil_shard
from write_side.command_service import Metadata
from write_side.domain.stock import OutOfStock, ReleaseReservation, ReserveStock, ShipReserved
from write_side.fulfilment.stock_owners import (
    decode_answer,
    decode_request,
    encode_answer,
    encode_request,
    owner_of,
)


def test_every_sku_has_one_owner_the_same_in_every_process() -> None:
    skus = [f"SKU-{n}" for n in range(1, 101)]
    owners = [owner_of(sku, 2) for sku in skus]
    assert owners == [owner_of(sku, 2) for sku in skus]
    assert set(owners) == {0, 1} and 30 <= owners.count(0) <= 70  # spread, not all on one
    assert {owner_of(sku, 1) for sku in skus} == {0}
    # pinned (CRC-32 of the SKU): a change would move every SKU between running processes
    assert zlib.crc32(b"SKU-1") == 3993447348 and owner_of("SKU-4", 2) == 1


@pytest.mark.parametrize(
    "command", [ReserveStock("o-1", 3), ReleaseReservation("o-1"), ShipReserved("o-1")]
)
def test_a_request_carries_the_command_and_its_step_key(
    command: ReserveStock | ReleaseReservation | ShipReserved,
) -> None:
    meta = Metadata("corr", "cause", "fulfil:o-1:reserve:SKU-1")
    assert decode_request(encode_request("SKU-1", command, meta)) == ("SKU-1", command, meta)


def test_a_request_not_written_by_an_asker_is_refused() -> None:
    with pytest.raises(ValueError):
        decode_request(
            b'{"sku":"a","order_id":"o","command":"adjust","correlation_id":"c",'
            b'"causation_id":null,"key":null}'
        )
    with pytest.raises(ValueError):
        decode_request(b"not json")


def test_an_answer_says_done_short_or_do_it_yourself() -> None:
    assert decode_answer(encode_answer(None)) is True
    with pytest.raises(OutOfStock) as short:
        decode_answer(encode_answer(OutOfStock("SKU-1", 5, 2)))
    assert (short.value.sku, short.value.wanted, short.value.available) == ("SKU-1", 5, 2)
    assert decode_answer(encode_answer(RuntimeError("NATS down"))) is False
    assert decode_answer(b"garbage") is False


def test_the_shard_setting() -> None:
    assert fulfil_shard(Settings()) == (0, 1)
    assert fulfil_shard(Settings(fulfil_shard=" 1/2 ")) == (1, 2)
    for bad in ("2/2", "1", "a/2", "0/0", "0/65", "-1/2"):
        with pytest.raises(ValidationError, match="fulfil_shard"):
            Settings(fulfil_shard=bad)
