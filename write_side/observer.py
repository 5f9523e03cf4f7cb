"""What the command service reports about its work; the composition root turns it into
metrics. The write side itself depends on no metrics library."""

from typing import Protocol


class CommandObserver(Protocol):
    def command_handled(self, command: str, outcome: str, seconds: float) -> None:
        """outcome: appended | unchanged | refused | not_found | conflict | unavailable"""

    def events_appended(self, stream: str, count: int) -> None: ...

    def conflict(self, stream: str) -> None: ...


class NoObserver:
    def command_handled(self, command: str, outcome: str, seconds: float) -> None:
        pass

    def events_appended(self, stream: str, count: int) -> None:
        pass

    def conflict(self, stream: str) -> None:
        pass
