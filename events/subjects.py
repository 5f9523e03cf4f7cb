"""Stream names, subjects and positions: where every aggregate's events live."""

import re
from dataclasses import dataclass
from uuid import UUID

ORDERS = "ORDERS"
STOCK = "STOCK"
PAYMENTS = "PAYMENTS"

STREAM_SUBJECTS: dict[str, str] = {
    ORDERS: "orders.*",
    STOCK: "stock.*",
    PAYMENTS: "payments.*",
}
SUBJECT_PREFIX: dict[str, str] = {ORDERS: "orders", STOCK: "stock", PAYMENTS: "payments"}
STREAM_OF_PREFIX: dict[str, str] = {prefix: stream for stream, prefix in SUBJECT_PREFIX.items()}

SKU_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
_SKU = re.compile(SKU_PATTERN)


class InvalidSubject(ValueError):
    """A token that cannot be part of a subject (wildcards, dots, spaces, ...)."""


def is_valid_sku(sku: str) -> bool:
    return bool(_SKU.fullmatch(sku))


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def uuid_text(value: UUID | str) -> str:
    """`str(UUID(str(value)))`: a UUID's canonical text (ValueError if it is none), taken
    as it is when it is that already (the ids this build makes), without a UUID made: a
    pattern check is about a tenth of building the UUID and its text; any other spelling
    UUID accepts (capitals, braces, no hyphens) is normalised."""
    if type(value) is str and _CANONICAL_UUID.fullmatch(value):
        return value
    return str(UUID(str(value)))


def order_subject(order_id: UUID | str) -> str:
    return f"orders.{uuid_text(order_id)}"


def stock_subject(sku: str) -> str:
    if not is_valid_sku(sku):
        raise InvalidSubject(f"not a valid SKU: {sku!r}")
    return f"stock.{sku}"


def payment_subject(order_id: UUID | str) -> str:
    return f"payments.{uuid_text(order_id)}"


def split_subject(subject: str) -> tuple[str, str]:
    """`orders.<id>` -> (`ORDERS`, `<id>`)."""
    prefix, _, token = subject.partition(".")
    if prefix not in STREAM_OF_PREFIX or not token or "." in token:
        raise InvalidSubject(f"not an aggregate subject: {subject!r}")
    return STREAM_OF_PREFIX[prefix], token


class InvalidPosition(ValueError):
    """A position token that is not `<STREAM>:<seq>`."""


@dataclass(frozen=True, order=True)
class Position:
    """A point in one stream: `ORDERS:42` is the 42nd message of ORDERS."""

    stream: str
    seq: int

    def __str__(self) -> str:
        return f"{self.stream}:{self.seq}"

    @classmethod
    def parse(cls, token: str) -> "Position":
        stream, sep, seq = token.partition(":")
        digits = seq.isascii() and seq.isdigit()
        if not sep or stream not in STREAM_SUBJECTS or not digits or len(seq) > 19:
            raise InvalidPosition(f"not a position: {token!r} (expected e.g. 'ORDERS:42')")
        return cls(stream, int(seq))
