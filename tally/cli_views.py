"""`tally replay NAME` (rebuild a view from its stream, compare, swap) and `tally audit NAME`
(re-count a view's events and compare them with its counters and rows)."""

import asyncio
import sys
from typing import Annotated

import typer

from projections.registry import PROJECTIONS
from tally.cli_common import (
    EXIT_DIFFERENCE,
    EXIT_USAGE,
    FAST_TIMEOUT,
    PROJECTION_NAMES,
    DataDirOption,
    TimeoutOption,
    console,
    fail,
    load,
    projection_names,
    run,
    stoppable,
)
from tally.settings import Settings


def replay(
    name: Annotated[
        str,
        typer.Argument(
            help=f"the projection to rebuild: {PROJECTION_NAMES}",
            metavar="NAME",
            autocompletion=projection_names,
        ),
    ],
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="only compare the rebuild with the live view, then drop it: exit 0 when"
            " equal, 3 when not",
        ),
    ] = False,
    expect_equal: Annotated[
        bool,
        typer.Option("--expect-equal", help="swap only if the rebuild equals the live view"),
    ] = False,
    data_dir: DataDirOption = None,
    timeout: TimeoutOption = FAST_TIMEOUT,
) -> None:
    """Rebuild a view from sequence 1 into shadow tables, compare it with the live view row
    by row, then swap it in atomically (exit 3: --check or --expect-equal found differences).
    Asks for confirmation on a terminal (never with --yes or --check); elsewhere it goes
    ahead."""
    from tally.roles.replay import run_replay

    if name not in PROJECTIONS:
        fail(f"no projection {name!r} (known: {PROJECTION_NAMES})", EXIT_USAGE)
    settings = load(need_database=True, data_dir=data_dir)
    if (
        not yes
        and not check
        and sys.stdin.isatty()
        and not typer.confirm(f"Rebuild the {name} view from its stream?")
    ):
        fail("aborted")

    async def role(settings: Settings, stop: asyncio.Event) -> None:
        import nats.errors

        from projections.replay import (
            ReplayBusy,
            ReplayDiffers,
            ReplayNotComparable,
            ReplayStopped,
        )
        from tally.connect_errors import cause
        from tally.roles.replay import print_differs

        try:
            result = await run_replay(
                settings, name, stop, timeout, check=check, expect_equal=expect_equal
            )
        except ReplayDiffers as differs:
            print_differs(name, differs)
            raise typer.Exit(3) from None
        except ReplayNotComparable as error:
            fail(f"not compared: {error}")
        except ReplayStopped:
            fail("replay stopped; the old view is untouched", 130)
        except ReplayBusy as error:
            fail(str(error))
        except nats.errors.Error as error:  # JetStream stopped answering mid-way
            fail(f"replay failed: NATS: {cause(error)}; the old view is untouched")
        if check and result.comparison is not None and not result.comparison.identical:
            raise typer.Exit(3)

    run(stoppable(settings, role))


def audit(
    name: Annotated[
        str,
        typer.Argument(
            help=f"the projection to audit: {PROJECTION_NAMES}",
            metavar="NAME",
            autocompletion=projection_names,
        ),
    ],
    data_dir: DataDirOption = None,
    timeout: TimeoutOption = FAST_TIMEOUT,
) -> None:
    """Re-count a view's events from JetStream and compare them with its audit counters
    (applied + dead + ignored per checkpoint row) and with the view's rows: exit 0 when
    all agree, 3 when not."""
    from projections.audit import AuditInexact
    from tally.roles.audit import run_audit

    if name not in PROJECTIONS:
        fail(f"no projection {name!r} (known: {PROJECTION_NAMES})", EXIT_USAGE)
    settings = load(need_database=True, data_dir=data_dir)

    async def main() -> None:
        try:
            rows, view = await run_audit(settings, name, console(), timeout)
        except AuditInexact as error:
            fail(f"{error}; try again")
        if not view.ok or not all(row.ok for row in rows):
            raise typer.Exit(EXIT_DIFFERENCE)

    run(main())
