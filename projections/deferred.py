"""A one-message batch's view statements, kept while the batch is folded and written into
its one message afterwards (`batch_transaction`): each `execute(sql, text...)` becomes an
`EXECUTE` of `sql`, prepared once per connection under a name of its own, with its texts
written in as string literals.

A text goes between single quotes with each quote doubled. That is the whole of quoting
while `standard_conforming_strings` is on (PostgreSQL's default since 9.1; the server
reports it to the driver at connect and whenever a session changes it): a backslash is
then an ordinary character. A connection where it is off never sends one message. No NUL
can be in a text PostgreSQL stores, and a text holding one is never deferred.
"""

import hashlib
from typing import Any

from projections.base import Connection

UNPREPARABLE: set[str] = set()  # view statements PostgreSQL would not prepare


class NotDeferrable(Exception):
    """A view's statement that cannot wait for the batch's one message."""


class Deferred:
    """The connection as a one-message batch's view statements see it: `execute(sql,
    text...)` is kept, to go out in the message; anything else (a read, `executemany`, a
    savepoint) needs the connection itself and refuses."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, tuple[str, ...]]] = []

    async def execute(self, sql: str, *args: object) -> str:
        texts = tuple(arg for arg in args if isinstance(arg, str) and "\x00" not in arg)
        if len(texts) != len(args) or sql in UNPREPARABLE:
            raise NotDeferrable("a statement whose values are not all texts")
        self.statements.append((sql, texts))
        return ""

    def __getattr__(self, name: str) -> Any:
        raise NotDeferrable(f"{name}() needs the connection")


def view_statement(sql: str) -> str:
    """The name a view's statement is prepared under (the same on every connection)."""
    return f"tally_view_{hashlib.sha1(sql.encode()).hexdigest()[:20]}"


def literal(text: str) -> str:
    """`text` as a string literal (`standard_conforming_strings` on: quotes doubled)."""
    return "'" + text.replace("'", "''") + "'"


def literals_are_plain(conn: Connection) -> bool:
    """Whether the server reads a backslash in a string literal as itself."""
    return getattr(conn.get_settings(), "standard_conforming_strings", None) == "on"
