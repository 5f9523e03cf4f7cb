"""The comparison of a rebuilt view with the live one, row by row, inside PostgreSQL.

Each table of the view is joined with its shadow copy on its primary key (a full outer
join, so rows on one side only are seen): rows equal, differing, only in the live view,
only in the rebuild, and the first differences column by column (values as text). Nothing
is exported to Python but the counts and those few differences.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from projections.base import Connection, Projection, qualified

if TYPE_CHECKING:
    from sqlalchemy import Table

MAX_DIFFERENCES = 10


@dataclass(frozen=True)
class Difference:
    table: str
    key: str  # the primary key's values, as text
    column: str
    live: str | None
    rebuilt: str | None


@dataclass(frozen=True)
class TableComparison:
    table: str
    equal: int
    differing: int
    only_live: int
    only_rebuilt: int

    @property
    def identical(self) -> bool:
        return self.differing == self.only_live == self.only_rebuilt == 0


@dataclass(frozen=True)
class Comparison:
    """The live view against its rebuild, at one stream position."""

    position: int
    tables: tuple[TableComparison, ...]
    differences: tuple[Difference, ...] = field(default=())

    @property
    def identical(self) -> bool:
        return all(table.identical for table in self.tables)

    def describe(self) -> list[str]:
        """The comparison as an operator reads it: a line per table, then the differences."""
        lines = [f"compared with the live view at position {self.position}:"]
        for table in self.tables:
            lines.append(
                f"  {table.table}: {table.equal:,} rows equal, {table.differing:,} differing,"
                f" {table.only_live:,} only in live, {table.only_rebuilt:,} only in the rebuild"
            )
        if self.differences:
            lines.append(f"first {len(self.differences)} differences (column: live -> rebuilt):")
        for difference in self.differences:
            lines.append(
                f"  {difference.table} {difference.key} {difference.column}:"
                f" {_shown(difference.live)} -> {_shown(difference.rebuilt)}"
            )
        lines.append("identical" if self.identical else "DIFFERENT")
        return lines


def _shown(value: str | None) -> str:
    return "(no row)" if value is None else repr(value)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _join(table: "Table", schema: str) -> tuple[str, list[str], list[str]]:
    """`live FULL JOIN rebuilt ON key`, the key's columns and the other columns."""
    keys = [column.name for column in table.primary_key.columns]
    others = [column.name for column in table.columns if column.name not in keys]
    on = " AND ".join(f"l.{_quote(key)} = r.{_quote(key)}" for key in keys)
    source = (
        f"{qualified('public', table)} AS l FULL OUTER JOIN {qualified(schema, table)} AS r ON {on}"
    )
    return source, keys, others


def _row(alias: str, columns: Sequence[str]) -> str:
    return f"ROW({', '.join(f'{alias}.{_quote(column)}' for column in columns)})"


def count_sql(table: "Table", schema: str) -> str:
    source, keys, others = _join(table, schema)
    live, rebuilt = _row("l", others), _row("r", others)
    in_live, in_rebuilt = f"l.{_quote(keys[0])} IS NOT NULL", f"r.{_quote(keys[0])} IS NOT NULL"
    both = f"{in_live} AND {in_rebuilt}"
    return f"""SELECT
        count(*) FILTER (WHERE {both} AND {live} IS NOT DISTINCT FROM {rebuilt}) AS equal,
        count(*) FILTER (WHERE {both} AND {live} IS DISTINCT FROM {rebuilt}) AS differing,
        count(*) FILTER (WHERE NOT {in_rebuilt}) AS only_live,
        count(*) FILTER (WHERE NOT {in_live}) AS only_rebuilt
    FROM {source}"""


def differences_sql(table: "Table", schema: str) -> str:
    """The first differing values: one row per (key, column) of a row on both sides, one
    row (column `*`, the whole row as text) for a row on one side only."""
    source, keys, others = _join(table, schema)
    key = " || '/' || ".join(f"coalesce(l.{_quote(k)}, r.{_quote(k)})::text" for k in keys)
    in_live, in_rebuilt = f"l.{_quote(keys[0])} IS NOT NULL", f"r.{_quote(keys[0])} IS NOT NULL"
    whole_live = f"CASE WHEN {in_live} THEN {_row('l', others)}::text END"
    whole_rebuilt = f"CASE WHEN {in_rebuilt} THEN {_row('r', others)}::text END"
    values = ", ".join(
        [f"('*', {whole_live}, {whole_rebuilt})"]
        + [f"('{c}', l.{_quote(c)}::text, r.{_quote(c)}::text)" for c in others]
    )
    return f"""SELECT {key} AS key, d.col AS column, d.live, d.rebuilt
    FROM {source}
    CROSS JOIN LATERAL (VALUES {values}) AS d(col, live, rebuilt)
    WHERE CASE WHEN {in_live} AND {in_rebuilt}
               THEN d.col <> '*' AND d.live IS DISTINCT FROM d.rebuilt
               ELSE d.col = '*' END
    ORDER BY 1, 2
    LIMIT {MAX_DIFFERENCES}"""


async def compare(
    conn: Connection, projection: Projection, schema: str, position: int
) -> Comparison:
    """The live tables of `projection` against their copies in `schema`."""
    tables: list[TableComparison] = []
    differences: list[Difference] = []
    for table in projection.tables:
        counts = await conn.fetchrow(count_sql(table, schema))
        tables.append(
            TableComparison(
                table.name,
                int(counts["equal"]),
                int(counts["differing"]),
                int(counts["only_live"]),
                int(counts["only_rebuilt"]),
            )
        )
        if tables[-1].identical or len(differences) >= MAX_DIFFERENCES:
            continue
        for row in await conn.fetch(differences_sql(table, schema)):
            differences.append(
                Difference(
                    table.name,
                    row["key"],
                    row["column"],
                    row["live"],
                    row["rebuilt"],
                )
            )
    return Comparison(position, tuple(tables), tuple(differences[:MAX_DIFFERENCES]))
