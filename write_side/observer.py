"""What the command service reports about its work; the composition root turns it into
metrics. The write side itself depends on no metrics library."""

from typing import Protocol


class CommandObserver(Protocol):
    def command_handled(self, command: str, outcome: str, seconds: float) -> None:
        """outcome: appended | unchanged | refused | not_found | conflict | unavailable"""

    def events_appended(self, stream: str, count: int) -> None: ...

    def conflict(self, stream: str) -> None: ...

    def cache_evicted(self, recent: bool) -> None:
        """A folded state left the command cache for room; `recent`: it was kept (written
        or read) less than a minute before, i.e. the cache turns over within a minute
        (its bound is too small for the states in use: every command reloads)."""


class NoObserver:
    def command_handled(self, command: str, outcome: str, seconds: float) -> None:
        pass

    def events_appended(self, stream: str, count: int) -> None:
        pass

    def conflict(self, stream: str) -> None:
        pass

    def cache_evicted(self, recent: bool) -> None:
        pass
