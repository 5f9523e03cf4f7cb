"""Partitions of a stream by aggregate: where JetStream stores an aggregate's events when its
stream splits them into N partitions, and how to read that back.

A partitioned stream keeps accepting appends on `orders.<id>` and stores them as
`orders.<p>.<id>` (a stream subject transform, `orders.*` ->
`orders.{{partition(N,1)}}.{{wildcard(1)}}`), p being the FNV-1a 32-bit hash of the id
modulo N, computed by the server. Concurrency checks (`Nats-Expected-Last-Subject-Sequence`)
apply to the stored subject, so the writers append exactly as before; only reads by subject
(direct get, a consumer's filter) need the stored subject, which `Layout.stored` gives.
Nothing here talks to NATS: `Layout.from_transforms` reads a stream's configured transform.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

MAX_PARTITIONS = 16  # per stream; the projector's NATS permissions name each consumer
_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193


def fnv1a_32(data: bytes) -> int:
    value = _FNV_OFFSET
    for byte in data:
        value = ((value ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return value


def partition_of(token: str, partitions: int) -> int:
    """The partition the server stores aggregate `token` in (nats-server's `partition()`)."""
    return fnv1a_32(token.encode()) % partitions


def transform_destination(prefix: str, partitions: int) -> str:
    """The stream subject transform's destination for `<prefix>.*`."""
    return f"{prefix}.{{{{partition({partitions},1)}}}}.{{{{wildcard(1)}}}}"


def partitions_in(destination: str | None) -> int:
    """N of a transform destination made by `transform_destination`; 1 for none."""
    if not destination or "{{partition(" not in destination:
        return 1
    return int(destination.split("{{partition(", 1)[1].split(",", 1)[0])


def aggregate_subject(stored: str) -> str:
    """`orders.<p>.<id>` or `orders.<id>` -> `orders.<id>`: the subject writers append to."""
    prefix, _, rest = stored.partition(".")
    return f"{prefix}.{rest.rpartition('.')[2]}"


@dataclass(frozen=True)
class Layout:
    """How many partitions each stream has (a stream not named has one)."""

    partitions: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_transforms(cls, destinations: Mapping[str, str | None]) -> "Layout":
        """From each stream's subject transform destination (None: not transformed)."""
        return cls({stream: partitions_in(dest) for stream, dest in destinations.items()})

    def count(self, stream: str) -> int:
        return self.partitions.get(stream, 1)

    def stored(self, stream: str, subject: str) -> str:
        """Where `subject` (`orders.<id>`) of `stream` is stored."""
        count = self.count(stream)
        if count <= 1:
            return subject
        prefix, _, token = subject.partition(".")
        return f"{prefix}.{partition_of(token, count)}.{token}"

    def partition_filter(self, prefix: str, partition: int) -> str:
        """The consumer filter of one partition: `orders.<p>.*`."""
        return f"{prefix}.{partition}.*"
