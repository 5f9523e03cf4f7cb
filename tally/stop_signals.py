"""SIGINT and SIGTERM from the first instant of a command, before any role has started.

The roles (`up`, `api`, `project`, `fulfil`) stop cleanly on either and exit 0: a signal
that arrives while one is still importing or connecting is remembered here and sets the
role's stop event as soon as the role installs its handlers (`take_early_stop`). Every
other command exits 130 on either: at once while Tally is still importing and parsing
its command line (a KeyboardInterrupt raised inside an import can come out as another
error: pydantic building a model at import turns it into a SchemaError, exit 1), and
once the command runs (`interrupt_from_now`) by a KeyboardInterrupt, which unwinds it.
Installed by `tally.entry`, the console script, before the rest of Tally is imported.
"""

import os
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


def _exit_now(signum: int, frame: FrameType | None) -> None:
    """Nothing has started that needs unwinding: say so and exit, whatever runs."""
    os.write(2, b"tally: interrupted\n")
    os._exit(130)


def command_of(argv: Sequence[str]) -> str | None:
    """The command of a `tally` command line: its first word that is not an option."""
    return next((word for word in argv[1:] if not word.startswith("-")), None)


def install_early(argv: Sequence[str]) -> None:
    handler = _remember if command_of(argv) in ROLE_COMMANDS else _exit_now
    for sig in STOP_SIGNALS:
        signal.signal(sig, handler)


def interrupt_from_now() -> None:
    """An operator command starts running: a stop signal from here on raises
    KeyboardInterrupt, which unwinds it (connections closed, exit 130)."""
    for sig in STOP_SIGNALS:
        if signal.getsignal(sig) is _exit_now:
            signal.signal(sig, _interrupt)


def take_early_stop() -> bool:
    """True when a stop signal arrived before the role's own handlers were installed."""
    return _stop_requested
