"""`tally replay NAME`: rebuild a view into shadow tables with a progress bar, then swap
it in. Ctrl-C before the swap leaves the old view as it was."""

import asyncio
import logging
import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from projections.registry import get_projection
from projections.replay import Replay, ReplayResult
from tally.bootstrap import Parts, bootstrap
from tally.database_url import asyncpg_dsn
from tally.settings import Settings

log = logging.getLogger("tally.replay")


class RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} events/s" if speed else "- events/s")


async def replay(parts: Parts, name: str, stop: asyncio.Event) -> ReplayResult:
    """The replay holds its own connection as the database's owner (it creates, drops and
    swaps tables), so it is given the URL rather than a pooled connection."""
    settings = parts.settings
    projection = get_projection(name)
    dsn = settings.database_dsn()
    if dsn is None:
        raise RuntimeError("DATABASE_URL is not set")
    nc = await parts.nats()
    console = Console(stderr=True)
    columns = (
        TextColumn(f"replay {name}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(name, total=None)

        def show(done: int, total: int) -> None:
            progress.update(task, completed=done, total=max(total, done))

        started = time.monotonic()
        result = await Replay(
            projection,
            nc,
            asyncpg_dsn(dsn),
            batch_size=settings.replay_batch_size,
            progress=show,
            stop=stop,
        ).run()
    elapsed = time.monotonic() - started
    rate = result.events / elapsed if elapsed > 0 else 0.0
    console.print(
        f"{name}: {result.events:,} events replayed in {elapsed:.1f} s ({rate:,.0f}/s), "
        f"swapped in at {projection.stream}:{result.position}"
        + (f"; {result.skipped} undecodable or failing events skipped" if result.skipped else "")
    )
    return result


async def run_replay(settings: Settings, name: str, stop: asyncio.Event) -> ReplayResult:
    async with bootstrap(settings, name="tally-replay") as parts:
        return await replay(parts, name, stop)
