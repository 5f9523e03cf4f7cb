"""A real projection wrapped by a test that changes what its `apply` does (a bug, a
failure at a chosen batch): name, stream and tables are the wrapped projection's."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table

from projections.base import Connection, Projection
from projections.facts import Fact


class WrappedProjection:
    def __init__(self, real: Projection) -> None:
        self.real = real

    @property
    def name(self) -> str:
        return self.real.name

    @property
    def stream(self) -> str:
        return self.real.stream

    @property
    def tables(self) -> tuple[Table, ...]:
        return self.real.tables

    async def apply(self, conn: Connection, schema: str, facts: Sequence[Fact]) -> None:
        await self.real.apply(conn, schema, facts)
