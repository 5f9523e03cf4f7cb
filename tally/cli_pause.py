"""`tally pause NAME` and `tally resume NAME`: a view's projectors stop pulling (keeping
their lock and checkpoint, across restarts) and start again. The work is done by
`tally.operator.pauses`, which the admin HTTP API calls too."""

from pathlib import Path
from typing import Annotated

import typer

from projections.registry import PROJECTIONS
from tally.cli_common import (
    EXIT_USAGE,
    FAST_TIMEOUT,
    DataDirOption,
    TimeoutOption,
    fail,
    load,
    run,
)

NameArgument = Annotated[
    str, typer.Argument(help=f"the view: {', '.join(PROJECTIONS)}", metavar="NAME")
]


def _set(name: str, paused: bool, data_dir: Path | None, timeout: float) -> None:
    if name not in PROJECTIONS:
        fail(f"no projection {name!r} (known: {', '.join(PROJECTIONS)})", EXIT_USAGE)
    settings = load(need_database=True, data_dir=data_dir)
    # imported here: every `tally` command imports this module to build its command line
    from tally.operator.pauses import set_paused
    from tally.operator.session import operator_session

    async def main() -> None:
        async with operator_session(settings, timeout, database=True) as parts:
            await set_paused(await parts.database(), name, paused)

    run(main())
    typer.echo(f"{name}: {'paused' if paused else 'resumed'}")


def pause(
    name: NameArgument, data_dir: DataDirOption = None, timeout: TimeoutOption = FAST_TIMEOUT
) -> None:
    """Pause a view: its projectors stop pulling, keep their lock and checkpoint, and stay
    paused across restarts until `tally resume`."""
    _set(name, True, data_dir, timeout)


def resume(
    name: NameArgument, data_dir: DataDirOption = None, timeout: TimeoutOption = FAST_TIMEOUT
) -> None:
    """Resume a paused view: its projectors catch up from their checkpoint."""
    _set(name, False, data_dir, timeout)
