"""Env files: `NAME=value` lines that a shell can `source`, systemd reads as an
`EnvironmentFile` and `docker run --env-file` takes.

`tally up` keeps the connection settings it uses in one (`<data-dir>/env`, mode 0600, for
it holds the database password); `tally config` prints the effective settings as one.
Values that need no quoting are written bare (Docker does not strip quotes), others in
single quotes.
"""

import os
import re
import shlex
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = ["env_line", "parse_env", "write_private"]

_BARE = re.compile(r"^[A-Za-z0-9_@%+=:,./?*-]*$")  # nothing a shell would read
_LINE = re.compile(r"^\s*(?:export\s+)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>.*)$")


def env_line(name: str, value: str) -> str:
    """`NAME=value`, the value quoted for a shell when it has to be."""
    return f"{name}={value if _BARE.match(value) else shlex.quote(value)}"


def parse_env(text: str) -> dict[str, str]:
    """The variables of an env file; blank lines and `#` comments are skipped, a value in
    quotes is unquoted as a shell would."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        match = _LINE.match(line)
        if match is None or line.lstrip().startswith("#"):
            continue
        value = match["value"].strip()
        if value[:1] in ("'", '"'):
            words = shlex.split(value)
            value = words[0] if words else ""
        found[match["name"]] = value
    return found


def write_private(path: Path, lines: Iterable[str]) -> None:
    """Write `lines` to `path`, readable by its owner only (0600), replaced atomically so
    that a reader never sees half a file."""
    partial = path.with_name(path.name + ".new")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.writelines(f"{line}\n" for line in lines)
    partial.replace(path)


def env_text(values: Mapping[str, str]) -> str:
    return "".join(env_line(name, value) + "\n" for name, value in values.items())
