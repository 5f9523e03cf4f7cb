"""How often each subject was used lately, estimated in a fixed amount of memory.

A count-min sketch: four counters per subject, picked by its hash from one table of
`width` bytes; a subject's estimate is the least of its four (others sharing a counter can
only raise it). Counters stop at 15, and after `10 * width` uses every counter is halved,
so the estimate follows what is used now rather than what was used an hour ago (the aging
of TinyLFU: Einziger, Friedman and Manes, "TinyLFU: A Highly Efficient Cache Admission
Policy", 2017). One byte a counter; the halving is one `bytes.translate` in C.
"""

MAX_COUNT = 15
HALVED = bytes(count >> 1 for count in range(256))
_MASK64 = (1 << 64) - 1


class UseCounts:
    """`width`: counters in the table, rounded up to a power of two (at least 64); a width
    near the number of subjects that compete keeps the estimates close."""

    def __init__(self, width: int) -> None:
        size = 64
        while size < width:
            size *= 2
        self._mask = size - 1
        self._table = bytearray(size)
        self._uses = 0
        self._period = 10 * size

    def _slots(self, subject: str) -> tuple[int, int, int, int]:
        first = hash(subject) & _MASK64
        step = ((first * 0x9E3779B97F4A7C15) & _MASK64) >> 32 | 1
        mask = self._mask
        return (
            first & mask,
            (first + step) & mask,
            (first + 2 * step) & mask,
            (first + 3 * step) & mask,
        )

    def add(self, subject: str) -> None:
        """One use of `subject`."""
        table = self._table
        for slot in self._slots(subject):
            if table[slot] < MAX_COUNT:
                table[slot] += 1
        self._uses += 1
        if self._uses >= self._period:
            self._table = self._table.translate(HALVED)  # a new bytearray
            self._uses //= 2

    def estimate(self, subject: str) -> int:
        """The uses of `subject` lately (at most MAX_COUNT; never fewer than counted since
        the last halving, halved)."""
        table = self._table
        first, second, third, fourth = self._slots(subject)
        return min(table[first], table[second], table[third], table[fourth])
