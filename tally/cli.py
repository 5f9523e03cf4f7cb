"""The `tally` command line. Each command validates the settings, sets up logging and runs
one composition root."""

import asyncio
import contextlib
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer
import uvloop

from tally.logging_setup import configure_logging
from tally.settings import Settings, SettingsError, load_settings

app = typer.Typer(
    name="tally",
    help="Tally: an event-sourced CQRS backend for orders and stock.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

HostOption = Annotated[str | None, typer.Option("--host", help="listen address")]
PortOption = Annotated[int | None, typer.Option("--port", help="listen port")]


def _settings(**overrides: Any) -> Settings:
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        settings = load_settings(**given)
    except SettingsError as error:
        typer.echo(f"tally: {error}", err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.log_level, settings.log_format)
    return settings


def _run(main: Coroutine[Any, Any, None]) -> None:
    from tally.nats_auth import NatsAuthConfigError
    from tally.nats_connection import NatsUnavailable
    from tally.nats_drift import ConfigurationDrift

    try:
        with contextlib.suppress(KeyboardInterrupt):
            uvloop.run(main)
    except (NatsUnavailable, NatsAuthConfigError, ConfigurationDrift) as error:  # refused
        # credentials, bad TLS files, streams or consumers not as `tally migrate` made them
        typer.echo(f"tally: {error}", err=True)
        raise typer.Exit(1) from None


def _stoppable(settings: Settings, role: Any) -> Coroutine[Any, Any, None]:
    from tally.roles.lifecycle import install_stop_signals

    async def main() -> None:
        stop = asyncio.Event()
        install_stop_signals(stop)
        await role(settings, stop)

    return main()


@app.command()
def up(
    host: HostOption = None,
    port: PortOption = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="where data lives")] = None,
) -> None:
    """Run everything on this machine: embedded NATS and PostgreSQL, migrations, all roles."""
    from tally.roles.up import run_up

    _run(run_up(_settings(host=host, port=port, data_dir=data_dir)))


@app.command()
def migrate() -> None:
    """Create or update the streams, the key-value bucket and the database schema."""
    from tally.roles.migrate import run_migrate

    settings = _settings()
    _require_nats(settings)
    _run(run_migrate(settings))


@app.command()
def api(host: HostOption = None, port: PortOption = None) -> None:
    """Serve the HTTP API (commands, queries, operations)."""
    from tally.roles.api import run_api

    settings = _settings(host=host, port=port)
    _require_nats(settings)
    _run(_stoppable(settings, run_api))


@app.command()
def fulfil() -> None:
    """Run the order fulfilment process (stock reservation, payment, compensation)."""
    from tally.roles.fulfil import run_fulfil

    settings = _settings()
    _require_nats(settings)
    _run(_stoppable(settings, run_fulfil))


@app.command()
def project(
    names: Annotated[list[str] | None, typer.Argument(help="projections (default: all)")] = None,
    partitions: Annotated[
        int | None,
        typer.Option("--partitions", min=1, help="the views' partitions (as `tally migrate` made)"),
    ] = None,
    take: Annotated[
        str | None, typer.Option("--take", help="only these partitions, e.g. 0,2 (default: all)")
    ] = None,
) -> None:
    """Run the projectors that fold the streams into the read models."""
    from tally.roles.project import PartitionsMismatch, run_projectors

    settings = _settings()
    _require_nats(settings)
    if settings.projector_database_dsn() is None:  # its own role's URL is enough
        typer.echo("tally: TALLY_PROJECTOR_DATABASE_URL (or DATABASE_URL) is not set", err=True)
        raise typer.Exit(2)
    try:
        taken = [int(part) for part in take.split(",")] if take else None
    except ValueError:
        typer.echo(f"tally: --take takes partition numbers, e.g. 0,2 (not {take!r})", err=True)
        raise typer.Exit(2) from None

    async def role(settings: Settings, stop: asyncio.Event) -> None:
        try:
            await run_projectors(settings, stop, names or None, partitions=partitions, take=taken)
        except (PartitionsMismatch, ValueError) as error:
            typer.echo(f"tally: {error}", err=True)
            raise typer.Exit(2) from None

    _run(_stoppable(settings, role))


@app.command()
def replay(
    name: Annotated[str, typer.Argument(help="the projection to rebuild, e.g. orders")],
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
) -> None:
    """Rebuild a view from sequence 1 into shadow tables, compare it with the live view row
    by row, then swap it in atomically (exit 3: --check or --expect-equal found differences)."""
    from projections.registry import PROJECTIONS
    from tally.roles.replay import run_replay

    settings = _require_database(_settings())
    if name not in PROJECTIONS:
        typer.echo(f"tally: no projection {name!r} (known: {', '.join(PROJECTIONS)})", err=True)
        raise typer.Exit(2)
    if not yes and not check and sys.stdin.isatty():
        typer.confirm(f"Rebuild the {name} view from its stream?", abort=True)

    async def role(settings: Settings, stop: asyncio.Event) -> None:
        from projections.replay import (
            ReplayBusy,
            ReplayDiffers,
            ReplayNotComparable,
            ReplayStopped,
        )
        from tally.roles.replay import print_differs

        try:
            result = await run_replay(settings, name, stop, check=check, expect_equal=expect_equal)
        except ReplayDiffers as differs:
            print_differs(name, differs)
            raise typer.Exit(3) from None
        except ReplayNotComparable as error:
            typer.echo(f"tally: not compared: {error}", err=True)
            raise typer.Exit(1) from None
        except ReplayStopped:
            typer.echo("tally: replay stopped; the old view is untouched", err=True)
            raise typer.Exit(130) from None
        except ReplayBusy as error:
            typer.echo(f"tally: {error}", err=True)
            raise typer.Exit(1) from None
        if check and result.comparison is not None and not result.comparison.identical:
            raise typer.Exit(3)

    _run(_stoppable(settings, role))


@app.command()
def status() -> None:
    """Streams, consumers, projections and their lag, dead letters."""
    from rich.console import Console

    from tally.roles.status import run_status

    settings = _settings()
    _require_nats(settings)
    _run(run_status(settings, Console()))


dlq_app = typer.Typer(help="The dead-letter stream.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")
SeqArgument = Annotated[list[int] | None, typer.Argument(help="dead letter sequences")]
AllOption = Annotated[bool, typer.Option("--all", help="every dead letter")]


@dlq_app.command("list")
def dlq_list() -> None:
    """List the dead letters: where they came from and why."""
    from rich.console import Console

    from tally.roles.status import dlq_list as run

    settings = _settings()
    _require_nats(settings)
    _run(run(settings, Console()))


@dlq_app.command("retry")
def dlq_retry(seqs: SeqArgument = None, everything: AllOption = False) -> None:
    """Apply dead letters again (after a fix); those that apply now are removed."""
    from rich.console import Console

    from tally.roles.status import dlq_retry as run

    settings = _require_database(_settings())
    _run(_discard(run(settings, seqs or [], everything, Console())))


@dlq_app.command("drop")
def dlq_drop(seqs: SeqArgument = None, everything: AllOption = False) -> None:
    """Delete dead letters."""
    from tally.roles.status import dlq_drop as run

    settings = _settings()
    _require_nats(settings)

    async def drop() -> None:
        typer.echo(f"dropped {await run(settings, seqs or [], everything)} dead letter(s)")

    _run(drop())


async def _discard(work: Coroutine[Any, Any, object]) -> None:
    await work


def _require_database(settings: Settings) -> Settings:
    _require_nats(settings)
    if settings.database_url is None:
        typer.echo("tally: DATABASE_URL is not set (only `tally up` embeds a server)", err=True)
        raise typer.Exit(2)
    return settings


@app.command()
def config() -> None:
    """Print the effective settings, secrets masked."""
    from tally.redaction import mask_url

    settings = _settings()
    for name, value in sorted(settings.model_dump(mode="json").items()):
        shown = "" if value is None else mask_url(value) if isinstance(value, str) else value
        typer.echo(f"{name}={shown}")


token_app = typer.Typer(help="API tokens (TALLY_API_TOKENS).", no_args_is_help=True)
app.add_typer(token_app, name="token")


@token_app.command("new")
def token_new(
    scopes: Annotated[str, typer.Option("--scopes", help="comma-separated: read,write,admin")],
) -> None:
    """Print a new random token and the TALLY_API_TOKENS entry (its digest) to configure."""
    from tally.http.tokens import SCOPES, new_token

    chosen = [scope.strip() for scope in scopes.split(",") if scope.strip()]
    if not chosen or set(chosen) - set(SCOPES):
        typer.echo(f"tally: --scopes takes some of {','.join(SCOPES)}", err=True)
        raise typer.Exit(2)
    token, entry = new_token(chosen)
    typer.echo(f"token (give it to the client, it is shown once): {token}")
    typer.echo(f"configure (entries joined with ';'): TALLY_API_TOKENS={entry}")


schemas_app = typer.Typer(help="The event schema registry (events/schemas/).", no_args_is_help=True)
app.add_typer(schemas_app, name="schemas")
RegistryOption = Annotated[
    Path | None, typer.Option("--dir", help="the registry (default: events/schemas/)")
]


@schemas_app.command("check")
def schemas_check(directory: RegistryOption = None) -> None:
    """Compare the event models with the registry (exit 0 ok, 3 breaking, 1 failed)."""
    from tally.schema_commands import run_check

    raise typer.Exit(run_check(directory))


@schemas_app.command("export")
def schemas_export(directory: RegistryOption = None) -> None:
    """Write the models' schemas into the registry; refused (exit 3) when one breaks."""
    from tally.schema_commands import run_export

    raise typer.Exit(run_export(directory))


def _require_nats(settings: Settings) -> None:
    if not settings.nats_servers:
        typer.echo("tally: NATS_URL is not set (only `tally up` embeds a server)", err=True)
        raise typer.Exit(2)


def main() -> None:
    app(prog_name="tally")


if __name__ == "__main__":
    main()
