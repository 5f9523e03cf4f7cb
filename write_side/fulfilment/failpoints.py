"""Failpoints: named places between the steps of fulfilment where a test can make the
process die, to show that a crash between any two steps loses and doubles nothing.

`TALLY_FAILPOINTS=after-reserve,after-authorize` makes the process exit at once with
`os._exit(EXIT_CODE)` (no cleanup, no ack, no flush: as a SIGKILL would) the first time
it passes one of the named points. The variable is read once, at the first check; unset,
as in production, every check is a lookup in an empty set and nothing else happens.

Points (each is *after* the step is stored, *before* the next one):
after-reserve, after-authorize (the gateway said yes; nothing recorded yet),
after-payment (PaymentAuthorized stored), after-confirm, after-reject, after-release,
after-refund (the gateway refunded; PaymentRefunded not stored yet), after-ship.
"""

import functools
import logging
import os

ENV = "TALLY_FAILPOINTS"
EXIT_CODE = 86
POINTS = frozenset(
    {
        "after-reserve",
        "after-authorize",
        "after-payment",
        "after-confirm",
        "after-reject",
        "after-release",
        "after-refund",
        "after-ship",
    }
)
log = logging.getLogger("tally.fulfilment")


@functools.cache
def armed() -> frozenset[str]:
    names = {name.strip() for name in os.environ.get(ENV, "").split(",") if name.strip()}
    if unknown := names - POINTS:
        log.warning("%s names unknown failpoints %s (known: %s)", ENV, unknown, sorted(POINTS))
    if names:
        log.warning("failpoints armed: %s; the process exits when it passes one", sorted(names))
    return frozenset(names)


def failpoint(name: str) -> None:
    """Exit the process here when `name` is armed."""
    if name in armed():
        os.write(2, f"failpoint {name} reached: exiting with {EXIT_CODE}\n".encode())
        os._exit(EXIT_CODE)
