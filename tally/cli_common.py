"""What the commands of the `tally` CLI share: the exit codes, the options (each naming
the variable behind it), loading the settings (the servers of `tally up` when
`NATS_URL` and `DATABASE_URL` are unset) and running a command to one of the exit codes."""

import asyncio
import json
import os
import socket
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
import uvloop
from rich.console import Console

from projections.registry import PROJECTIONS
from tally.logging_setup import configure_logging
from tally.settings import Settings, SettingsError, env_name, load_settings, unknown_variables
from tally.up_env import env_file_of, read_up_env

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_DIFFERENCE = 3
EXIT_INTERRUPTED = 130
EXIT_CODES = (
    "Exit codes: 0 ok; 1 failed (a server unreachable, an operation or a check failed); "
    "2 usage or settings error; 3 a check found a difference; 130 interrupted."
)
FAST_TIMEOUT = 3.0  # seconds an operator command waits for NATS or PostgreSQL


def env_help(text: str, field: str) -> str:
    return f"{text} [env var: {env_name(field)}]"


HostOption = Annotated[
    str | None, typer.Option("--host", help=env_help("listen address", "host"), show_default=False)
]
PortOption = Annotated[
    int | None,
    typer.Option("--port", min=1, max=65535, help=env_help("listen port", "port")),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help=env_help("the data dir of `tally up` (default .tally)", "data_dir"),
        show_default=False,
    ),
]
TimeoutOption = Annotated[
    float,
    typer.Option("--timeout", min=0.1, help="seconds to reach NATS and PostgreSQL, then give up"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON (for scripts)")]

_found: list[Path] = []  # the env file of `tally up` this command's settings came from


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    typer.echo(f"tally: {message}", err=True)
    raise typer.Exit(code)


def load(
    *, need_nats: bool = True, need_database: bool = False, use_up: bool = True, **overrides: Any
) -> Settings:
    """The settings from the environment and `overrides` (the options given); without
    NATS_URL and DATABASE_URL, those of the `tally up` of the data dir (said on stderr).
    A bad setting or a missing server is a usage error (exit 2)."""
    for warning in unknown_variables(os.environ):
        typer.echo(f"tally: warning: {warning}", err=True)
    given = {key: value for key, value in overrides.items() if value is not None}
    settings = _validated(given)
    configure_logging(settings.log_level, settings.log_format)
    if use_up and not settings.nats_url and settings.database_url is None:
        settings = _with_up_servers(settings, given)
    if need_nats and not settings.nats_servers:
        fail(f"NATS_URL is not set and {_no_up(settings)}", EXIT_USAGE)
    if need_database and settings.database_url is None:
        fail(f"DATABASE_URL is not set and {_no_up(settings)}", EXIT_USAGE)
    return settings


def _validated(given: dict[str, Any]) -> Settings:
    try:
        return load_settings(**given)
    except SettingsError as error:
        fail(str(error), EXIT_USAGE)


def _with_up_servers(settings: Settings, given: dict[str, Any]) -> Settings:
    try:
        found = read_up_env(settings.data_dir)
    except OSError as error:
        fail(f"cannot read {env_file_of(settings.data_dir)}: {error.strerror}", EXIT_USAGE)
    if found is None or not found.nats_url:
        return settings
    urls = {"nats_url": found.nats_url, "database_url": found.database_url}
    try:
        settings = load_settings(**given, **{k: v for k, v in urls.items() if v is not None})
    except SettingsError as error:
        fail(f"{found.path}: {error}", EXIT_USAGE)
    _found[:] = [found.path]
    typer.echo(f"tally: using the servers of `tally up` written to {found.path}", err=True)
    return settings


def _no_up(settings: Settings) -> str:
    path = env_file_of(settings.data_dir)
    return f"no `tally up` wrote {path} (start one with `tally up`, or set it)"


def run(main: Coroutine[Any, Any, object]) -> None:
    """Runs a command's coroutine: a server that cannot be reached is one line and exit 1
    (with a hint when its URL came from `tally up`'s file); an interruption exit 130."""
    from tally.database_connection import DatabaseUnavailable
    from tally.nats_auth import NatsAuthConfigError
    from tally.nats_connection import NatsUnavailable
    from tally.nats_drift import ConfigurationDrift
    from tally.stop_signals import interrupt_from_now

    async def quietly() -> object:
        asyncio.get_running_loop().set_exception_handler(_unless_abandoned_lookup)
        return await main

    interrupt_from_now()  # after the imports above: a signal in them exits at once
    try:
        uvloop.run(quietly())
    except KeyboardInterrupt:
        fail("interrupted", EXIT_INTERRUPTED)
    except (NatsUnavailable, DatabaseUnavailable) as error:
        hint = f" (from {_found[0]}: is `tally up` running?)" if _found else ""
        fail(f"{error}{hint}")
    except (NatsAuthConfigError, ConfigurationDrift) as error:
        # refused credentials, bad TLS files, streams or consumers not as `tally migrate`
        # made them
        fail(str(error))


def _unless_abandoned_lookup(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The loop's default error report, but for a host name lookup that failed after a
    connect attempt gave up on it (its error is in the one line already said)."""
    unretrieved = context.get("message", "").startswith("Future exception was never retrieved")
    if unretrieved and isinstance(context.get("exception"), socket.gaierror):
        return
    loop.default_exception_handler(context)


def console() -> Console:
    """Rich output on stdout; when stdout is not a terminal, tables are never cut."""
    return Console() if sys.stdout.isatty() else Console(width=100_000)


def print_json(value: object) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))


def confirm(question: str, *, yes: bool) -> None:
    """Go on with `--yes`; ask on a terminal; elsewhere refuse (exit 2: `--yes` needed)."""
    if yes:
        return
    if not sys.stdin.isatty():
        fail("not a terminal to ask on: add --yes to go ahead", EXIT_USAGE)
    if not typer.confirm(question):
        fail("aborted", EXIT_FAILED)


PROJECTION_NAMES = ", ".join(PROJECTIONS)


def projection_names(incomplete: str) -> list[str]:
    """The projections whose names start with `incomplete` (for shell completion)."""
    return [name for name in PROJECTIONS if name.startswith(incomplete)]


def stoppable(settings: Settings, role: Any) -> Coroutine[Any, Any, None]:
    """`role(settings, stop)` with `stop` set by SIGINT or SIGTERM."""
    from tally.roles.lifecycle import install_stop_signals

    async def main() -> None:
        stop = asyncio.Event()
        install_stop_signals(stop)
        await role(settings, stop)

    return main()
