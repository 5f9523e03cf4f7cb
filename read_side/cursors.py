"""Opaque keyset cursors: the sort key of the last row of a page, as URL-safe base64 JSON."""

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from events.subjects import is_valid_sku


class InvalidCursor(ValueError):
    pass


def _encode(value: list[Any]) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError) as error:
        raise InvalidCursor("not a cursor of this API") from error
    if not isinstance(value, list):
        raise InvalidCursor("not a cursor of this API")
    return value


def order_cursor(created_at: datetime, order_id: UUID) -> str:
    return _encode(["o", created_at.isoformat(), str(order_id)])


def parse_order_cursor(cursor: str) -> tuple[datetime, UUID]:
    value = _decode(cursor)
    try:
        kind, created_at, order_id = value
        moment = datetime.fromisoformat(created_at)
        if kind != "o" or moment.tzinfo is None:
            raise ValueError(kind)
        return moment.astimezone(UTC), UUID(order_id)
    except (TypeError, ValueError, OverflowError, AttributeError) as error:
        raise InvalidCursor("not an order list cursor") from error


def stock_cursor(sku: str) -> str:
    return _encode(["s", sku])


def parse_stock_cursor(cursor: str) -> str:
    value = _decode(cursor)
    if len(value) != 2 or value[0] != "s" or not isinstance(value[1], str):
        raise InvalidCursor("not a stock list cursor")
    if not is_valid_sku(value[1]):
        raise InvalidCursor("not a stock list cursor")
    return value[1]
