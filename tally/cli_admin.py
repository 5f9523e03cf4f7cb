"""`tally token new` (an API token and its TALLY_API_TOKENS entry) and `tally schemas
check|export` (the event schema registry)."""

from pathlib import Path
from typing import Annotated

import typer

from tally.cli_common import EXIT_USAGE, fail

token_app = typer.Typer(help="API tokens (TALLY_API_TOKENS).", no_args_is_help=True)


@token_app.command("new")
def token_new(
    scopes: Annotated[str, typer.Option("--scopes", help="comma-separated: read,write,admin")],
) -> None:
    """Print a new random token and the TALLY_API_TOKENS entry (its digest) to configure."""
    from tally.http.tokens import SCOPES, new_token

    chosen = [scope.strip() for scope in scopes.split(",") if scope.strip()]
    if not chosen or set(chosen) - set(SCOPES):
        fail(f"--scopes takes some of {','.join(SCOPES)}", EXIT_USAGE)
    token, entry = new_token(chosen)
    typer.echo(f"token (give it to the client, it is shown once): {token}")
    typer.echo(f"configure (entries joined with ';'): TALLY_API_TOKENS={entry}")


schemas_app = typer.Typer(help="The event schema registry (events/schemas/).", no_args_is_help=True)
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
