"""`tally replay NAME [--check | --expect-equal]`: rebuild a view into shadow tables,
compare it with the live view row by row, then swap it in (or, for a check, only compare).
Progress goes to stderr: a bar on a terminal, else a plain line every few seconds (for logs
and CI). Ctrl-C before the swap leaves the old view as it was."""

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import nats.errors
from nats.js.errors import ServiceUnavailableError
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
from projections.replay import Replay, ReplayDiffers, ReplayResult
from tally.bootstrap import Parts, bootstrap
from tally.connect_errors import cause
from tally.database_url import asyncpg_dsn
from tally.nats_connection import NatsUnavailable
from tally.roles.heap import settle_heap
from tally.settings import Settings

log = logging.getLogger("tally.replay")
_NO_RESPONDERS = (nats.errors.NoRespondersError, ServiceUnavailableError)
PLAIN_EVERY = 5.0  # seconds between two progress lines when stderr is not a terminal
Show = Callable[[int, int], None]


class RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} events/s" if speed else "- events/s")


def describe(name: str, result: ReplayResult) -> list[str]:
    """What the comparison showed and what became of the rebuild."""
    if result.comparison is not None:
        lines = result.comparison.describe()
        lines.insert(1, f"  (compared in {result.compare_seconds:.2f} s)")
    else:
        lines = [f"not compared: {result.uncompared or 'no live view to compare with'}"]
    if result.swapped:
        lines.append(f"{name}: the rebuild is swapped in")
    else:
        lines.append(f"{name}: the rebuild is dropped; the live view is untouched")
    return lines


@contextmanager
def progress_bar(name: str, console: Console) -> Iterator[Show]:
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

        yield show


@contextmanager
def progress_lines(
    name: str,
    console: Console,
    every: float = PLAIN_EVERY,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Show]:
    """One plain line every `every` seconds: done of total, percent, rate."""
    started = clock()
    last = [started]

    def show(done: int, total: int) -> None:
        now = clock()
        if now - last[0] < every:
            return
        last[0] = now
        total = max(total, done)
        share = f" ({done / total:.0%})" if total else ""
        rate = done / (now - started) if now > started else 0.0
        console.print(
            f"replay {name}: {done:,} of {total:,} events{share}, {rate:,.0f} events/s",
            highlight=False,
        )

    yield show


async def replay(
    parts: Parts,
    name: str,
    stop: asyncio.Event,
    *,
    check: bool = False,
    expect_equal: bool = False,
) -> ReplayResult:
    """The replay holds its own connection as the database's owner (it creates, drops and
    swaps tables), so it is given the URL rather than a pooled connection."""
    settings = parts.settings
    projection = get_projection(name)
    dsn = settings.database_dsn()
    if dsn is None:
        raise RuntimeError("DATABASE_URL is not set")
    nc = await parts.nats()
    layout = await parts.layout()  # waits while JetStream cannot answer (a leader election)
    console = Console(stderr=True)
    shown = progress_bar if console.is_terminal else progress_lines
    with shown(name, console) as show:
        started = time.monotonic()
        result = await Replay(
            projection,
            nc,
            asyncpg_dsn(dsn),
            batch_size=settings.replay_batch_size,
            progress=show,
            stop=stop,
            check=check,
            expect_equal=expect_equal,
            partitions=layout.count(projection.stream),
        ).run()
    elapsed = time.monotonic() - started
    rate = result.events / elapsed if elapsed > 0 else 0.0
    console.print(
        f"{name}: {result.events:,} events replayed in {elapsed:.1f} s ({rate:,.0f}/s), "
        f"{'swapped in' if result.swapped else 'compared'} at {projection.stream}:{result.position}"
        + (f"; {result.skipped} undecodable or failing events skipped" if result.skipped else ""),
        highlight=False,
    )
    for line in describe(name, result):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    return result


async def run_replay(
    settings: Settings,
    name: str,
    stop: asyncio.Event,
    timeout: float | None = None,
    *,
    check: bool = False,
    expect_equal: bool = False,
) -> ReplayResult:
    """NATS and PostgreSQL reached within `timeout` seconds (default
    TALLY_NATS_CONNECT_TIMEOUT) or one error naming the one that is not, then the replay."""
    async with bootstrap(settings, name="tally-replay", connect_timeout=timeout) as parts:
        await parts.nats()
        await parts.database()
        try:
            await parts.layout()
        except (TimeoutError, nats.errors.Error) as error:  # still no answer: one line
            waited = timeout or settings.nats_connect_timeout
            why = "no responders" if isinstance(error, _NO_RESPONDERS) else cause(error)
            raise NatsUnavailable(
                f"JetStream did not answer within {waited:g} s ({why}); the old view is untouched"
            ) from error
        settle_heap()  # connected: what is allocated from here on is per event
        return await replay(parts, name, stop, check=check, expect_equal=expect_equal)


def print_differs(name: str, differs: ReplayDiffers) -> None:
    """--expect-equal met a difference: what differs, and that nothing was swapped."""
    console = Console(stderr=True)
    for line in differs.comparison.describe():
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    console.print(f"{name}: not swapped (--expect-equal); the live view is untouched")
