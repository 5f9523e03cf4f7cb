"""The shadow schema a replay builds a view in (`projections.replay`): its name, the
view's tables created there with the same keys and index names, and moved into `public` in
place of the live ones at the swap."""

from projections.base import Connection, Projection


def shadow_schema(projection: Projection) -> str:
    return f"replay_{projection.name}"


def shadow_ddl(projection: Projection, schema: str) -> tuple[list[str], list[str]]:
    """CREATE statements for the projection's tables in `schema` (with their keys), and
    for their secondary indexes, built after the bulk load; index names unchanged."""
    # imported here: SQLAlchemy is part of a replay, not of a projector's start-up
    from sqlalchemy import MetaData
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateIndex, CreateTable

    copies, dialect = MetaData(), postgresql.dialect()  # type: ignore[no-untyped-call]
    tables: list[str] = []
    indexes: list[str] = []
    for table in projection.tables:
        copy = table.to_metadata(copies, schema=schema)
        tables.append(str(CreateTable(copy).compile(dialect=dialect)))
        indexes += [str(CreateIndex(index).compile(dialect=dialect)) for index in copy.indexes]
    return tables, indexes


async def swap_tables(conn: Connection, projection: Projection, schema: str) -> None:
    """In the swap's transaction: the live tables locked (parent first, the order the
    projector and the queries lock them in) and dropped, the shadow's moved into `public`."""
    names = ", ".join(f'"public"."{table.name}"' for table in projection.tables)
    await conn.execute(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE")
    for table in reversed(projection.tables):
        await conn.execute(f'DROP TABLE "public"."{table.name}"')
    for table in projection.tables:
        await conn.execute(f'ALTER TABLE "{schema}"."{table.name}" SET SCHEMA public')
