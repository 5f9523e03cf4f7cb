"""The shadow schema a replay builds a view in (`projections.replay`): its name, and the
view's tables created there with the same keys and index names."""

from sqlalchemy import MetaData
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex, CreateTable

from projections.base import Projection


def shadow_schema(projection: Projection) -> str:
    return f"replay_{projection.name}"


def shadow_ddl(projection: Projection, schema: str) -> tuple[list[str], list[str]]:
    """CREATE statements for the projection's tables in `schema` (with their keys), and
    for their secondary indexes, built after the bulk load; index names unchanged."""
    copies, dialect = MetaData(), postgresql.dialect()  # type: ignore[no-untyped-call]
    tables: list[str] = []
    indexes: list[str] = []
    for table in projection.tables:
        copy = table.to_metadata(copies, schema=schema)
        tables.append(str(CreateTable(copy).compile(dialect=dialect)))
        indexes += [str(CreateIndex(index).compile(dialect=dialect)) for index in copy.indexes]
    return tables, indexes
