"""SIGINT and SIGTERM from the first instant of a command, before any role has started.

The roles (`up`, `api`, `project`, `fulfil`) stop cleanly on either and exit 0: a signal
that arrives while one is still importing or connecting is remembered here and sets the
role's stop event as soon as the role installs its handlers (`take_early_stop`). For
every other command the signal interrupts it (KeyboardInterrupt: exit 130).
Installed by `tally.entry`, the console script, before the rest of Tally is imported.
"""

import signal
from collections.abc import Sequence
from types import FrameType

ROLE_COMMANDS = frozenset({"up", "api", "project", "fulfil"})
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

_stop_requested = False


def _remember(signum: int, frame: FrameType | None) -> None:
    global _stop_requested
    _stop_requested = True


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def command_of(argv: Sequence[str]) -> str | None:
    """The command of a `tally` command line: its first word that is not an option."""
    return next((word for word in argv[1:] if not word.startswith("-")), None)


def install_early(argv: Sequence[str]) -> None:
    handler = _remember if command_of(argv) in ROLE_COMMANDS else _interrupt
    for sig in STOP_SIGNALS:
        signal.signal(sig, handler)


def take_early_stop() -> bool:
    """True when a stop signal arrived before the role's own handlers were installed."""
    return _stop_requested
