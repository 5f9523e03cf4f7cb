"""DATABASE_URL is a plain libpq URI; the drivers' URLs are derived from it here."""

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# SQLAlchemy's driver suffixes that may come with a URL made for another tool: dropped.
_DRIVERS = ("asyncpg", "psycopg", "psycopg2")


def validate_database_url(url: str) -> str:
    """`url` as a libpq URI: `postgresql://` or `postgres://`, or SQLAlchemy's
    `postgresql+asyncpg://` / `postgresql+psycopg://` with the driver dropped."""
    parts = urlsplit(url)
    scheme, _, driver = parts.scheme.partition("+")
    if scheme not in ("postgresql", "postgres") or (driver and driver not in _DRIVERS):
        raise ValueError("must start with postgresql:// (a libpq URI)")
    if not parts.path.strip("/"):
        raise ValueError("must name a database, e.g. postgresql://user@host:5432/tally")
    return urlunsplit(parts._replace(scheme=scheme)) if driver else url


def sqlalchemy_url(url: str) -> str:
    """`postgresql://...` -> `postgresql+asyncpg://...` (unix sockets via `?host=/dir`)."""
    parts = urlsplit(validate_database_url(url))
    query = urlencode(parse_qsl(parts.query))
    return urlunsplit(("postgresql+asyncpg", parts.netloc, parts.path, query, ""))


def asyncpg_dsn(url: str) -> str:
    """asyncpg takes the libpq URI as it is, but only the `postgresql` scheme."""
    parts = urlsplit(validate_database_url(url))
    return urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, ""))
