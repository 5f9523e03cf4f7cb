"""The ids made on every command, at a fraction of `uuid`'s cost, equal to what it makes.

- Random ids (event ids, correlation ids, order ids): version 4 UUIDs with the RFC 4122
  variant, as `uuid.uuid4()` makes them, from os.urandom bytes drawn 4 KiB at a time
  instead of 16 bytes a system call. The pool is emptied in a forked child (a child must
  never hand out its parent's ids).
- Name-based ids (`name_uuid`): `uuid.uuid5(namespace, name)`, with one SHA-1 and the UUID
  built from its bytes without `UUID.__init__`'s checks (the version and variant bits are
  set here, as uuid5 sets them): the same id for the same name, byte for byte.
"""

import hashlib
import os
from uuid import UUID, SafeUUID

_POOL_BYTES = 4096  # 256 ids a refill
_ID_BYTES = 16
_VERSION_BITS = ~((0xF000 << 64) | (0xC000 << 48))  # the version nibble, the variant bits
_VERSION_4 = (0x4000 << 64) | (0x8000 << 48)
_VERSION_5 = (0x5000 << 64) | (0x8000 << 48)
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}
_UNKNOWN = SafeUUID.unknown
_new = object.__new__
_set = object.__setattr__
_from_bytes = int.from_bytes
_sha1 = hashlib.sha1


class _Pool:
    """Random 16-byte blocks, refilled from os.urandom when empty; emptied after a fork."""

    def __init__(self) -> None:
        self._blocks: list[bytes] = []
        self._watching_forks = False

    def take(self) -> bytes:
        try:
            return self._blocks.pop()
        except IndexError:
            self._refill()
            return self._blocks.pop()

    def _refill(self) -> None:
        if not self._watching_forks:
            os.register_at_fork(after_in_child=self._blocks.clear)
            self._watching_forks = True
        raw = os.urandom(_POOL_BYTES)
        self._blocks.extend([raw[at : at + _ID_BYTES] for at in range(0, _POOL_BYTES, _ID_BYTES)])


_pool = _Pool()


def _uuid(value: int) -> UUID:
    """A UUID of the 128-bit `value` (its version and variant already set), unchecked."""
    made: UUID = _new(UUID)
    _set(made, "int", value)
    _set(made, "is_safe", _UNKNOWN)
    return made


def random_int() -> int:
    """A random version 4 UUID's 128-bit value."""
    return _from_bytes(_pool.take()) & _VERSION_BITS | _VERSION_4


def random_uuid() -> UUID:
    """A random version 4 UUID, as `uuid.uuid4()` makes it."""
    return _uuid(random_int())


def random_uuid_text() -> str:
    """A random version 4 UUID's text, as `str(uuid.uuid4())` makes it: the version digit
    written as 4, the variant digit as 8-b by the low two bits of the random one."""
    x = _pool.take().hex()
    return f"{x[:8]}-{x[8:12]}-4{x[13:16]}-{_VARIANT[x[16]]}{x[17:20]}-{x[20:]}"


def random_hex() -> str:
    """32 random hex digits."""
    return _pool.take().hex()


def name_uuid(namespace: UUID, name: str) -> UUID:
    """`uuid.uuid5(namespace, name)`: equal to it for every namespace and name."""
    digest = _sha1(namespace.bytes + name.encode()).digest()
    return _uuid(_from_bytes(digest[:_ID_BYTES]) & _VERSION_BITS | _VERSION_5)


class NameIds:
    """`name_uuid` in one namespace, its bytes and SHA-1 state made once."""

    def __init__(self, namespace: UUID) -> None:
        self._started = _sha1(namespace.bytes)

    def __call__(self, name: str) -> UUID:
        digest = self._started.copy()
        digest.update(name.encode())
        return _uuid(_from_bytes(digest.digest()[:_ID_BYTES]) & _VERSION_BITS | _VERSION_5)
