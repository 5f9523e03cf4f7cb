"""`tally dlq list | show | retry | drop`: the dead letters from the command line; the
work is done by `tally.operator.dead_letters`, which the admin HTTP API calls too. It and
the operator's session are imported by the commands that use them: every `tally` command
imports this module to build its command line, and `tally project` should not pay for
the operator's parts."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from projections.registry import PROJECTIONS
from tally.cli_common import (
    EXIT_FAILED,
    EXIT_USAGE,
    FAST_TIMEOUT,
    DataDirOption,
    JsonOption,
    TimeoutOption,
    console,
    fail,
    load,
    print_json,
    run,
)
from tally.settings import Settings

if TYPE_CHECKING:
    from tally.operator.dead_letters import LetterResult

dlq_app = typer.Typer(help="The dead letters: events a projection could not apply.")
SeqsArgument = Annotated[
    list[int] | None, typer.Argument(help="dead letter sequences (see `tally dlq list`)")
]
AllOption = Annotated[bool, typer.Option("--all", help="every dead letter")]
ProjectionOption = Annotated[
    str | None,
    typer.Option("--projection", help=f"only this projection's: {', '.join(PROJECTIONS)}"),
]


@dlq_app.callback(no_args_is_help=True)
def _dlq() -> None:
    """The dead letters: events a projection could not apply."""


@dlq_app.command("list")
def dlq_list(
    projection: ProjectionOption = None,
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
    timeout: TimeoutOption = FAST_TIMEOUT,
) -> None:
    """Where each dead letter came from (subject, stream position, type) and why, and the
    later events of its aggregate parked behind it (with a database to ask)."""
    from tally.operator import dead_letters as letters
    from tally.operator.session import operator_session

    settings = load(data_dir=data_dir)
    found: list[dict[str, Any]] = []

    async def main() -> None:
        database = settings.database_dsn() is not None
        async with operator_session(settings, timeout, database=database) as parts:
            js = (await parts.nats()).jetstream()
            listed = await letters.list_letters(js, projection)
            parked = await letters.parked_of(await parts.database(), listed) if database else {}
            found.extend(letters.item(one, parked.get(one.seq)) for one in listed)

    run(main())
    if as_json:
        print_json({"items": found})
        return
    table = Table("seq", "projection", "subject", "position", "type", "attempts", "error", "when")
    for one in found:
        table.add_row(
            str(one["seq"]),
            str(one["projection"]),
            str(one["subject"]),
            str(one["position"]),
            str(one["type"] or "?"),
            str(one["attempts"]),
            letters.first_line(str(one["error"])),
            str(one["dead_at"] or "?"),
        )
        for event in one["parked"] or []:  # under their head, in order
            table.add_row(
                "",
                "",
                str(event["subject"]),
                str(event["position"]),
                str(event["type"] or "?"),
                "",
                f"parked behind {one['seq']}",
                "",
            )
    out = console()
    out.print(table) if found else out.print("no dead letters")


@dlq_app.command("show")
def dlq_show(
    seq: Annotated[int, typer.Argument(help="the dead letter's sequence")],
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
    timeout: TimeoutOption = FAST_TIMEOUT,
) -> None:
    """One dead letter in full: payload, headers and the whole error."""
    from tally.operator import dead_letters as letters
    from tally.operator.session import operator_session

    settings = load(data_dir=data_dir)
    found: list[dict[str, object]] = []

    async def main() -> None:
        async with operator_session(settings, timeout) as parts:
            letter = await letters.show_letter((await parts.nats()).jetstream(), seq)
            found.extend([letters.detail(letter)] if letter else [])

    run(main())
    if not found:
        fail(f"no dead letter {seq}")
    shown = found[0]
    if as_json:
        print_json(shown)
        return
    for key in ("seq", "projection", "subject", "position", "type", "attempts", "dead_at"):
        typer.echo(f"{key}: {shown[key]}")
    typer.echo(f"error: {shown['error']}")
    typer.echo("headers:")
    for name, value in dict(shown["headers"]).items():  # type: ignore[call-overload]
        typer.echo(f"  {name}: {value}")
    typer.echo(f"data: {shown['data']}")


def _chosen(seqs: list[int] | None, everything: bool) -> list[int] | None:
    """The sequences named, None for `--all`; neither (or both) is a usage error."""
    if everything and seqs:
        fail("give sequences or --all, not both", EXIT_USAGE)
    if not everything and not seqs:
        fail("say which dead letters: their sequences, or --all", EXIT_USAGE)
    return None if everything else seqs


LetterAction = Callable[[Any, Any, int, Any], Awaitable["LetterResult"]]


def _each_letter(
    settings: Settings, timeout: float, chosen: list[int] | None, act: LetterAction
) -> list[LetterResult]:
    """`act(js, conn, seq, layout)` on each chosen dead letter (None: every one), in one
    operator session with the database."""
    from tally.operator import dead_letters as letters
    from tally.operator.session import operator_session

    results: list[LetterResult] = []

    async def main() -> None:
        async with operator_session(settings, timeout, database=True) as parts:
            js = (await parts.nats()).jetstream()
            conn = await parts.database()
            wanted = chosen or [one.seq for one in await letters.list_letters(js)]
            layout = await parts.layout()
            for seq in wanted:
                results.append(await act(js, conn, seq, layout))

    run(main())
    return results


@dlq_app.command("retry")
def dlq_retry(
    seqs: SeqsArgument = None,
    everything: AllOption = False,
    data_dir: DataDirOption = None,
    timeout: TimeoutOption = FAST_TIMEOUT,
) -> None:
    """Apply dead letters to their view again (after a fix); those that apply are removed.
    Exits 1 when one still fails (it stays, with its new error)."""
    from tally.operator import dead_letters as letters

    chosen = _chosen(seqs, everything)
    settings = load(need_database=True, data_dir=data_dir)
    results = _each_letter(settings, timeout, chosen, letters.retry_letter)
    for result in results:
        if result.outcome == "applied":
            typer.echo(f"dead letter {result.seq}: applied to {result.projection}, removed")
            _released(result)
        elif result.outcome == "failed":
            typer.echo(f"dead letter {result.seq}: still failing: {result.error}", err=True)
        else:
            typer.echo(f"dead letter {result.seq}: no such dead letter", err=True)
    if any(result.outcome != "applied" for result in results):
        raise typer.Exit(EXIT_FAILED)


@dlq_app.command("drop")
def dlq_drop(
    seqs: SeqsArgument = None,
    everything: AllOption = False,
    yes: Annotated[bool, typer.Option("--yes", help="with --all: do not ask")] = False,
    data_dir: DataDirOption = None,
    timeout: TimeoutOption = FAST_TIMEOUT,
) -> None:
    """Delete dead letters; the events parked behind one are then applied in order (up to
    one that fails: it becomes their head). `--all` asks first on a terminal and needs
    --yes elsewhere."""
    from tally.operator import dead_letters as letters

    chosen = _chosen(seqs, everything)
    if chosen is None and not yes:
        if not sys.stdin.isatty():
            fail("--all deletes every dead letter: add --yes (not a terminal to ask on)", 2)
        if not typer.confirm("Delete every dead letter?"):
            fail("aborted")
    settings = load(need_database=True, data_dir=data_dir)
    results = _each_letter(
        settings,
        timeout,
        chosen,
        lambda js, conn, seq, layout: letters.drop_letter(js, seq, conn, layout),
    )
    for result in results:
        _released(result)
    dropped = [result.seq for result in results if result.outcome == "dropped"]
    missing = [result.seq for result in results if result.outcome != "dropped"]
    typer.echo(f"dropped {len(dropped)} dead letter(s)")
    if missing:
        fail(f"no dead letter {', '.join(map(str, missing))}")


def _released(result: LetterResult) -> None:
    """What a retry or a drop did to the events parked behind the dead letter."""
    if result.released:
        typer.echo(f"  {result.released} parked event(s) behind it applied in order")
    if result.new_head is not None:
        typer.echo(f"  the next one failed: dead letter {result.new_head} heads the rest")
