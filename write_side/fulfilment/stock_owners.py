"""Stock commands taken to the `tally fulfil` process that owns their SKU.

Two fulfilment processes on one durable consumer race for the same stock items: each
process's cached state goes stale whenever the other reserves on the item, and the next
append fails on its expected sequence and is decided again (issue 15: ~0.8 failed
appends per order with two processes, a quarter of their CPU). An order cannot be routed
to one process by its SKUs (its lines name several), so its stock commands are: with
`TALLY_FULFIL_SHARD=I/N`, every SKU has one owner among the N processes (a stable hash of
the SKU), and a process sends a command on a SKU it does not own to the owner, which
decides and appends it in its turn on that SKU, as it does its own. Each stock item is
then written by one process only, whose cache stays current.

Nothing here is needed for correctness: the expected sequence still guards every append.
When the owner does not answer (not running: no responders; too slow; any error), the
process does the command itself, as without shards; a command answered late and also done
here is one idempotent step done twice (same event ids, and a reservation decided on the
item's state), never two effects.
"""

import asyncio
import contextlib
import json
import logging
import zlib
from dataclasses import dataclass
from typing import Protocol

import nats.errors
from nats.aio.client import Client as NATS

from write_side.aggregates import STOCK_ITEM
from write_side.command_service import CommandService, Metadata
from write_side.domain.stock import OutOfStock, ReleaseReservation, ReserveStock, ShipReserved
from write_side.jetstream_wire import JetStreamWire
from write_side.raw_inbox import RawInbox

log = logging.getLogger("tally.fulfilment")
SUBJECT = "tally.fulfil.stock"  # + ".<shard>": the commands that shard's process owns
OrderStockCommand = ReserveStock | ReleaseReservation | ShipReserved
_DONE = b'{"done":true}'
_FAILED = b'{"done":false}'


def owner_of(sku: str, shards: int) -> int:
    """The shard (0..shards-1) that owns `sku`: the same in every process and release."""
    return zlib.crc32(sku.encode()) % shards


@dataclass(frozen=True, slots=True)
class Shard:
    """This process's shard (`index`) among `count` fulfilment processes."""

    index: int
    count: int


class StockSteps(Protocol):
    async def handle(self, sku: str, command: OrderStockCommand, meta: Metadata) -> None:
        """Decides and appends `command` on the stock item `sku`; OutOfStock (or another
        rule violation) when it is refused."""


class LocalStock:
    """Every stock command done in this process (one process, or no shards)."""

    def __init__(self, service: CommandService) -> None:
        self._service = service

    async def handle(self, sku: str, command: OrderStockCommand, meta: Metadata) -> None:
        await self._service.handle(STOCK_ITEM, sku, command, meta)


def encode_request(sku: str, command: OrderStockCommand, meta: Metadata) -> bytes:
    body: dict[str, object] = {
        "sku": sku,
        "order_id": command.order_id,
        "correlation_id": meta.correlation_id,
        "causation_id": meta.causation_id,
        "key": meta.idempotency_key,
    }
    match command:
        case ReserveStock(quantity=quantity):
            body["command"], body["quantity"] = "reserve", quantity
        case ReleaseReservation():
            body["command"] = "release"
        case ShipReserved():
            body["command"] = "ship"
    return json.dumps(body, separators=(",", ":")).encode()


def decode_request(data: bytes) -> tuple[str, OrderStockCommand, Metadata]:
    """What `encode_request` wrote; ValueError (or KeyError, TypeError) for anything else."""
    body = json.loads(data)
    order_id = str(body["order_id"])
    command: OrderStockCommand
    match body["command"]:
        case "reserve":
            command = ReserveStock(order_id, int(body["quantity"]))
        case "release":
            command = ReleaseReservation(order_id)
        case "ship":
            command = ShipReserved(order_id)
        case other:
            raise ValueError(f"unknown stock command {other!r}")
    meta = Metadata(str(body["correlation_id"]), body["causation_id"], body["key"])
    return str(body["sku"]), command, meta


def encode_answer(error: Exception | None) -> bytes:
    if error is None:
        return _DONE
    if isinstance(error, OutOfStock):
        return json.dumps(
            {"done": False, "out_of_stock": [error.sku, error.wanted, error.available]}
        ).encode()
    return _FAILED


def decode_answer(data: bytes) -> bool:
    """True: done by the owner; False: not done there (do it here); raises the owner's
    OutOfStock."""
    if data == _DONE:
        return True
    try:
        body = json.loads(data)
        short = body.get("out_of_stock")
    except (ValueError, AttributeError):
        return False
    if isinstance(short, list) and len(short) == 3:
        sku, wanted, available = short
        raise OutOfStock(str(sku), int(wanted), int(available))
    return False


class OwnedStock:
    """Commands on SKUs that another shard owns are asked of its process (within
    `timeout`); the rest, and whatever the owner does not do, are done here."""

    def __init__(
        self, service: CommandService, wire: JetStreamWire, shard: Shard, *, timeout: float
    ) -> None:
        self._service = service
        self._wire = wire
        self._shard = shard
        self._timeout = timeout

    async def handle(self, sku: str, command: OrderStockCommand, meta: Metadata) -> None:
        owner = owner_of(sku, self._shard.count)
        if owner != self._shard.index and await self._ask(owner, sku, command, meta):
            return
        await self._service.handle(STOCK_ITEM, sku, command, meta)

    async def _ask(self, owner: int, sku: str, command: OrderStockCommand, meta: Metadata) -> bool:
        payload = encode_request(sku, command, meta)
        try:
            reply = await self._wire.request(
                f"{SUBJECT}.{owner}", b"", payload, timeout=self._timeout
            )
        except (TimeoutError, nats.errors.Error) as error:
            log.debug("stock owner %d did not answer: %r", owner, error)
            return False
        if reply.status is not None:  # 503: no process serves that shard now
            return False
        return decode_answer(reply.data)


class StockOwner:
    """Serves the stock commands other shards' processes ask of this one: each decided and
    appended by this process's command service, in its turn on the SKU."""

    def __init__(self, nc: NATS, service: CommandService, shard: Shard) -> None:
        self._service = service
        self._wire = JetStreamWire.of(nc)
        self._inbox = RawInbox(nc, self._on_request, subject=f"{SUBJECT}.{shard.index}")
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self._wire.start()
        await self._inbox.start()

    async def close(self) -> None:
        """No more requests taken (askers then do their commands themselves); the ones in
        hand are finished and answered."""
        await self._inbox.close()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _on_request(self, subject: bytes, reply: bytes, headers: bytes | None, data: bytes) -> None:
        if not reply:
            return  # nobody waits for an answer: nothing is done
        task = asyncio.get_running_loop().create_task(self._serve(reply, data))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reply: bytes, data: bytes) -> None:
        error: Exception | None = None
        try:
            sku, command, meta = decode_request(data)
            await self._service.handle(STOCK_ITEM, sku, command, meta)
        except OutOfStock as short:
            error = short
        except Exception as failure:  # the asker does it itself
            log.warning("a stock command asked of this process failed: %r", failure)
            error = failure
        with contextlib.suppress(nats.errors.Error):  # the asker times out, does it itself
            self._wire.publish_raw(reply, encode_answer(error))
