"""What every projection is: a name, the stream it folds, the tables it owns, and a
set-based `apply` of a batch of events (a few statements per batch, never one per event)."""

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from projections.facts import Fact

if TYPE_CHECKING:  # SQLAlchemy is imported only where tables are built (replay, audit)
    from sqlalchemy import Table

Connection = Any  # asyncpg.Connection (asyncpg ships no type information)


class Projection(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def stream(self) -> str: ...

    @property
    def tables(self) -> "tuple[Table, ...]": ...

    async def apply(self, conn: Connection, schema: str, facts: Sequence[Fact]) -> None:
        """Apply `facts` (in stream order, none seen before) to the tables in `schema`."""
        ...


def qualified(schema: str, table: "Table | str") -> str:
    """`"schema"."table"` of a table or its name; schema and table names are ours, never
    user input."""
    return f'"{schema}"."{table if isinstance(table, str) else table.name}"'
