"""The `tally` command line. Each command validates the settings, sets up logging and runs
one composition root; what is shared (options, exit codes, finding `tally up`) is in
`cli_common.py`. Commands of their own modules: replay and audit (`cli_views.py`), pause
and resume (`cli_pause.py`), dead letters (`cli_dlq.py`), tokens and schemas
(`cli_admin.py`)."""

import asyncio
import sys
from collections.abc import Coroutine
from importlib.metadata import version as installed_version
from typing import Annotated, Any

import typer

from projections.registry import PROJECTIONS
from tally.cli_common import (
    EXIT_CODES,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    FAST_TIMEOUT,
    PROJECTION_NAMES,
    DataDirOption,
    HostOption,
    JsonOption,
    PortOption,
    TimeoutOption,
    console,
    fail,
    load,
    print_json,
    projection_names,
    run,
    stoppable,
)
from tally.settings import Settings

app = typer.Typer(
    name="tally",
    help="Tally: an event-sourced CQRS backend for orders and stock.",
    epilog=EXIT_CODES,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(shown: bool) -> None:
    if shown:
        typer.echo(f"tally {installed_version('tally')}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="print the version"),
    ] = False,
) -> None:
    """Tally: an event-sourced CQRS backend for orders and stock."""


@app.command()
def up(host: HostOption = None, port: PortOption = None, data_dir: DataDirOption = None) -> None:
    """Run everything on this machine: embedded NATS and PostgreSQL (unless NATS_URL /
    DATABASE_URL are set), migrations, all roles. Writes the servers' URLs to
    <data-dir>/env, which every other command reads."""
    from tally.roles.up import run_up

    settings = load(need_nats=False, use_up=False, host=host, port=port, data_dir=data_dir)
    run(run_up(settings))


@app.command()
def migrate(
    check: Annotated[
        bool, typer.Option("--check", help="change nothing; exit 1 unless all is at head")
    ] = False,
    data_dir: DataDirOption = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            min=0.1,
            show_default=False,
            help="seconds to reach NATS and PostgreSQL (default: 3 with --check, else "
            "TALLY_NATS_CONNECT_TIMEOUT)",
        ),
    ] = None,
) -> None:
    """Create or update the streams, consumers, key-value buckets and the database schema."""
    from tally.roles.migrate import run_migrate, run_migrate_check

    settings = load(data_dir=data_dir)
    if check:
        if not run_and_tell(run_migrate_check(settings, timeout or FAST_TIMEOUT)):
            raise typer.Exit(EXIT_FAILED)
        return
    run(run_migrate(settings, timeout or settings.nats_connect_timeout))


def run_and_tell(check: Coroutine[Any, Any, list[str]]) -> bool:
    """Runs a check that returns what differs; prints it; True when nothing does."""
    found: list[list[str]] = []

    async def main() -> None:
        found.append(await check)

    run(main())
    for line in found[0]:
        typer.echo(line)
    return not found[0]


@app.command()
def api(
    host: HostOption = None,
    port: PortOption = None,
    data_dir: DataDirOption = None,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="API processes sharing the port")
    ] = 1,
    reuse_port: Annotated[bool, typer.Option("--reuse-port", hidden=True)] = False,
    role_metrics: Annotated[list[str] | None, typer.Option("--role-metrics", hidden=True)] = None,
    published_breaker: Annotated[bool, typer.Option("--published-breaker", hidden=True)] = False,
) -> None:
    """Serve the HTTP API (commands, queries, operations)."""
    from tally.roles.api import run_api, run_api_workers

    settings = load(host=host, port=port, data_dir=data_dir)
    if workers > 1:
        run(stoppable(settings, lambda s, stop: run_api_workers(s, stop, workers)))
        return
    # `tally up`'s API: the other roles' metrics (ROLE=URL) and their published breaker
    roles = dict(item.split("=", 1) for item in role_metrics or [])

    async def role(s: Settings, stop: asyncio.Event) -> None:
        await run_api(
            s,
            stop,
            reuse_port=reuse_port,
            role_metrics=roles,
            published_breaker=published_breaker,
        )

    run(stoppable(settings, role))


@app.command()
def fulfil(data_dir: DataDirOption = None) -> None:
    """Run the order fulfilment process (stock reservation, payment, compensation)."""
    from tally.roles.fulfil import run_fulfil

    settings = load(data_dir=data_dir)
    run(stoppable(settings, run_fulfil))


@app.command()
def project(
    names: Annotated[
        list[str] | None,
        typer.Argument(
            help=f"projections: {PROJECTION_NAMES} (default: all)",
            metavar="NAME",
            autocompletion=projection_names,
            show_default=False,
        ),
    ] = None,
    partitions: Annotated[
        int | None,
        typer.Option("--partitions", min=1, help="the views' partitions (as `tally migrate` made)"),
    ] = None,
    take: Annotated[
        str | None, typer.Option("--take", help="only these partitions, e.g. 0,2 (default: all)")
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Run the projectors that fold the streams into the read models."""
    from tally.roles.project import PartitionsMismatch, run_projectors

    settings = load(data_dir=data_dir)
    unknown = sorted(set(names or []) - set(PROJECTIONS))
    if unknown:
        fail(
            f"no projection {', '.join(map(repr, unknown))} (known: {PROJECTION_NAMES})", EXIT_USAGE
        )
    if settings.projector_database_dsn() is None:  # its own role's URL is enough
        fail("TALLY_PROJECTOR_DATABASE_URL (or DATABASE_URL) is not set", EXIT_USAGE)
    try:
        taken = [int(part) for part in take.split(",")] if take else None
    except ValueError:
        fail(f"--take takes partition numbers, e.g. 0,2 (not {take!r})", EXIT_USAGE)

    async def role(settings: Settings, stop: asyncio.Event) -> None:
        try:
            await run_projectors(settings, stop, names or None, partitions=partitions, take=taken)
        except (PartitionsMismatch, ValueError) as error:
            fail(str(error), EXIT_USAGE)

    run(stoppable(settings, role))


@app.command()
def status(
    as_json: JsonOption = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="exit 1, saying why, when a projection is stalled or over --max-lag, "
            "dead letters exist or the payment breaker is open",
        ),
    ] = False,
    max_lag: Annotated[
        int | None,
        typer.Option("--max-lag", min=0, help="with --check: the most lag allowed (events)"),
    ] = None,
    data_dir: DataDirOption = None,
    timeout: TimeoutOption = FAST_TIMEOUT,
) -> None:
    """Streams, consumers, projections and their lag, dead letters, the payment breaker."""
    from tally.operator.status import problems, read_status
    from tally.status_output import render_status, status_json

    settings = load(data_dir=data_dir)
    found: list[Any] = []

    async def main() -> None:
        found.append(await read_status(settings, timeout))

    run(main())
    report = found[0]
    if as_json:
        print_json(status_json(report, settings.ready_stall_seconds))
    else:
        render_status(report, console(), settings.ready_stall_seconds)
    if check:
        wrong = problems(report, max_lag=max_lag, stall_seconds=settings.ready_stall_seconds)
        for line in wrong:
            typer.echo(f"tally: check failed: {line}", err=True)
        if wrong:
            raise typer.Exit(EXIT_FAILED)


@app.command()
def config(as_json: JsonOption = False, data_dir: DataDirOption = None) -> None:
    """Print the effective settings as an env file (passwords masked), or as JSON."""
    from tally.settings_output import settings_json, settings_lines

    settings = load(need_nats=False, data_dir=data_dir)
    if as_json:
        print_json(settings_json(settings))
    else:
        for line in settings_lines(settings):
            typer.echo(line)


def _register_dlq() -> None:
    from tally.cli_dlq import dlq_app

    app.add_typer(dlq_app, name="dlq")


_register_dlq()


def _register_pause() -> None:
    from tally.cli_pause import pause, resume

    app.command()(pause)
    app.command()(resume)


_register_pause()


def _register_views() -> None:
    from tally.cli_views import audit, replay

    app.command()(replay)
    app.command()(audit)


_register_views()


def _register_admin() -> None:
    from tally.cli_admin import schemas_app, token_app

    app.add_typer(token_app, name="token")
    app.add_typer(schemas_app, name="schemas")


_register_admin()


def main() -> None:
    """Runs the command line to one of the exit codes (click's own "Aborted!", exit 1,
    is exit 130 here, as for any interruption)."""
    try:
        code = app(prog_name="tally", standalone_mode=False)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("tally: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except typer.TyperException as error:  # a usage error: shown as click shows it
        show = getattr(error, "show", None)
        show() if show else typer.echo(f"tally: {error.format_message()}", err=True)
        sys.exit(error.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
