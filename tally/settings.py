"""Every knob of Tally, read from the environment once at process start and passed down.

`NATS_URL` and `DATABASE_URL` keep their conventional names; everything else is `TALLY_*`.
"""

import difflib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from events.partitions import MAX_PARTITIONS
from tally.database_url import validate_database_url
from tally.http.tokens import parse_tokens
from tally.redaction import mask_url

NATS_SCHEMES = ("nats", "tls", "ws", "wss")


def _nats_servers(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None  # unset, or set to nothing: the same
    for server in value.split(","):
        server = server.strip()
        if not server or ("://" not in server and ":" not in server):
            raise ValueError(f"not a NATS server URL: {mask_url(server)!r}")
        scheme = server.partition("://")[0].lower() if "://" in server else "nats"
        if scheme not in NATS_SCHEMES:
            raise ValueError(
                f"{mask_url(server)!r}: the scheme must be nats://, tls://, ws:// or wss://"
            )
    return value


def _api_tokens(value: SecretStr | None) -> SecretStr | None:
    if value is None or not value.get_secret_value().strip():
        return None  # unset or empty: the API is open (and says so at start)
    parse_tokens(value.get_secret_value())
    return value


def _fulfil_shard(value: str) -> str:
    """`I/N`: this `tally fulfil` process is shard I (0..N-1) of N; `0/1`: no shards."""
    index, slash, count = value.strip().partition("/")
    if not slash or not index.isdigit() or not count.isdigit():
        raise ValueError(f"{value!r}: write I/N, e.g. 0/2 (shard I of N processes)")
    if not 0 <= int(index) < int(count) <= 64:
        raise ValueError(f"{value!r}: needs 0 <= I < N <= 64")
    return f"{int(index)}/{int(count)}"


def fulfil_shard(settings: "Settings") -> tuple[int, int]:
    """(I, N) of `TALLY_FULFIL_SHARD`."""
    index, _, count = settings.fulfil_shard.partition("/")
    return int(index), int(count)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TALLY_", extra="ignore", frozen=True, populate_by_name=True
    )

    nats_url: Annotated[str | None, AfterValidator(_nats_servers)] = Field(
        default=None,
        validation_alias="NATS_URL",
        description="NATS server(s), comma-separated; unset: `tally up` embeds one",
    )
    database_url: SecretStr | None = Field(
        default=None,
        validation_alias="DATABASE_URL",
        description="libpq URI; unset: `tally up` embeds PostgreSQL",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    data_dir: Path = Path(".tally")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"
    access_log: bool = False
    metrics_port: int | None = Field(default=None, ge=1, le=65535)

    stream_replicas: int = Field(default=1, ge=1, le=5)
    duplicate_window_seconds: float = Field(default=120.0, gt=0, le=86_400)
    idempotency_ttl_hours: float = Field(default=48.0, ge=24, le=24 * 365)
    nats_timeout: float = Field(default=0.9, gt=0, le=30)
    nats_connect_timeout: float = Field(default=30.0, gt=0, le=3600)
    command_deadline: float = Field(default=10.0, gt=0, le=120)
    command_max_attempts: int = Field(default=120, ge=1, le=10_000)
    snapshot_every: int = Field(default=1000, ge=0, le=1_000_000)  # 0: no snapshots
    # folded states a process keeps to decide on (LRU; a state counts 1 + a fifth of its
    # reservations)
    command_cache_entries: int = Field(default=50_000, ge=0, le=10_000_000)

    payment_limit: Decimal = Field(default=Decimal(10000), ge=0)
    payment_failure_rate: float = Field(default=0.0, ge=0, le=1)
    payment_url: str | None = None
    payment_deadline_seconds: float = Field(default=30.0, gt=0, le=86_400)
    payment_timeout_seconds: float = Field(default=2.0, gt=0, le=120)
    payment_max_attempts: int = Field(default=3, ge=1, le=100)
    payment_seed: int | None = None  # seeds the simulator's failures (repeatable runs)
    breaker_failure_threshold: int = Field(default=5, ge=1, le=10_000)
    breaker_reset_seconds: float = Field(default=5.0, gt=0, le=3600)
    # order events in hand at once: fulfilment is bound by its round trips per order, not
    # its CPU (64 confirmed ~30 % fewer orders/s at ~20 % more CPU per order system-wide;
    # docs/benchmarks.md, issue 15, session 11)
    fulfil_concurrency: int = Field(default=256, ge=1, le=10_000)
    # I/N: with N > 1 `tally fulfil` processes, each SKU's stock commands are done by its
    # owner among them (write_side/fulfilment/stock_owners.py): no conflicts between them
    fulfil_shard: Annotated[str, AfterValidator(_fulfil_shard)] = "0/1"

    # read side: projectors, replay, queries
    projector_batch_size: int = Field(default=2000, ge=1, le=10_000)
    # ORDERS and STOCK split by aggregate, each partition of a view its own projector;
    # `tally migrate` applies a change (rewriting a stream that holds events)
    partitions: int = Field(default=1, ge=1, le=MAX_PARTITIONS)
    projector_max_deliveries: int = Field(default=5, ge=1, le=100)
    projector_retry_backoff: float = Field(default=0.1, ge=0, le=60)
    # the projectors' commits wait for the WAL flush (on) or not (off: a PostgreSQL crash
    # loses at most the last fraction of a second of projection, re-projected from
    # JetStream; a view and its checkpoint commit or vanish together)
    projection_synchronous_commit: Literal["on", "off"] = "off"
    replay_batch_size: int = Field(default=5000, ge=1, le=100_000)
    # /ready fails when a projection lags and has not moved for this long (a backlog being
    # worked off is reported, never failed)
    ready_stall_seconds: float = Field(default=60.0, gt=0, le=86_400)
    query_timeout: float = Field(default=1.5, gt=0, le=30)
    db_pool_size: int = Field(default=10, ge=1, le=200)
    # view answers `tally api` keeps (a page counts one per row); 0: every GET reads
    query_cache_entries: int = Field(default=10_000, ge=0, le=10_000_000)

    # security (README "Securing Tally"); secrets are SecretStr, masked in `tally config`
    api_tokens: Annotated[SecretStr | None, AfterValidator(_api_tokens)] = None
    protect_ops: bool = False  # /health, /ready, /metrics, /docs need a token too
    command_rate_per_client: float | None = Field(default=None, gt=0, le=1_000_000)
    command_burst_per_client: int = Field(default=20, ge=1, le=1_000_000)
    max_header_bytes: int = Field(default=16_384, ge=1024, le=1_048_576)
    head_timeout_seconds: float = Field(default=10.0, gt=0, le=300)  # then 408 and close
    trusted_proxies: str | None = None  # whose X-Forwarded-For to believe; unset: nobody's
    query_database_url: SecretStr | None = None  # `tally api`; unset: DATABASE_URL
    projector_database_url: SecretStr | None = None  # `tally project`; unset: DATABASE_URL
    admin_database_url: SecretStr | None = None  # `tally api`'s admin writes; unset: DATABASE_URL
    nats_user: str | None = None
    nats_password: SecretStr | None = None
    nats_token: SecretStr | None = None
    nats_nkey_seed_file: Path | None = None
    nats_creds_file: Path | None = None
    nats_tls_ca: Path | None = None
    nats_tls_cert: Path | None = None
    nats_tls_key: Path | None = None

    @property
    def nats_servers(self) -> list[str]:
        if not self.nats_url:
            return []
        return [server.strip() for server in self.nats_url.split(",")]

    def database_dsn(self) -> str | None:
        if self.database_url is None:
            return None
        return validate_database_url(self.database_url.get_secret_value())

    def query_database_dsn(self) -> str | None:
        """The query API's database URL (a read-only role), else DATABASE_URL."""
        if self.query_database_url is None:
            return self.database_dsn()
        return validate_database_url(self.query_database_url.get_secret_value())

    def projector_database_dsn(self) -> str | None:
        """The projectors' database URL (a writer role), else DATABASE_URL."""
        if self.projector_database_url is None:
            return self.database_dsn()
        return validate_database_url(self.projector_database_url.get_secret_value())

    def admin_database_dsn(self) -> str | None:
        """What the API's admin routes write with (pauses, replay requests, dead-letter
        retries and drops: rows, never the schema), else DATABASE_URL."""
        if self.admin_database_url is None:
            return self.database_dsn()
        return validate_database_url(self.admin_database_url.get_secret_value())


def env_name(field: str) -> str:
    """The environment variable behind a setting (or behind an error's location, which
    pydantic gives as the alias for `NATS_URL` and `DATABASE_URL`)."""
    info = Settings.model_fields.get(field)
    if info is not None and isinstance(info.validation_alias, str):
        return info.validation_alias
    if field in _ALIASES:
        return field
    return f"TALLY_{field.upper()}"


_ALIASES = frozenset(
    info.validation_alias
    for info in Settings.model_fields.values()
    if isinstance(info.validation_alias, str)
)


class SettingsError(Exception):
    """An invalid environment; the message names every bad variable."""


def load_settings(**overrides: object) -> Settings:
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
        settings.database_dsn()
        for field in ("query_database_url", "projector_database_url", "admin_database_url"):
            url = getattr(settings, field)
            try:
                validate_database_url(url.get_secret_value()) if url else None
            except ValueError as error:
                raise SettingsError(f"invalid settings:\n  {env_name(field)}: {error}") from None
        return settings
    except ValidationError as error:
        problems = [
            f"{env_name(str(item['loc'][0])) if item['loc'] else '?'}: "
            + item["msg"].removeprefix("Value error, ")
            for item in error.errors(include_url=False)
        ]
        raise SettingsError("invalid settings:\n  " + "\n  ".join(problems)) from None
    except ValueError as error:
        raise SettingsError(f"invalid settings:\n  DATABASE_URL: {error}") from None


# TALLY_* variables read by something other than the settings: the tests' failpoints, the
# image's health check, the compose file's publishing of the API.
NOT_SETTINGS = frozenset(
    {"TALLY_FAILPOINTS", "TALLY_HEALTHCHECK_URL", "TALLY_API_BIND", "TALLY_API_PORT"}
    | {"TALLY_IMAGE_TAG"}
)


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """A warning for each `TALLY_*` variable that nothing reads (a typo, or a setting of
    another version), with the closest known name."""
    known = {env_name(field) for field in Settings.model_fields} | NOT_SETTINGS
    warnings = []
    for name in sorted(environ):
        upper = name.upper()  # the settings are read case-insensitively
        if upper.startswith("TALLY_") and upper not in known:
            close = difflib.get_close_matches(upper, sorted(known), n=1, cutoff=0.75)
            hint = f" (did you mean {close[0]}?)" if close else ""
            warnings.append(f"{name} is not a Tally setting and is ignored{hint}")
    return warnings
