"""Embedded NATS and PostgreSQL servers for `tally up` and the tests."""

from tally.embedded._process import ServerStartError
from tally.embedded.nats_server import EmbeddedNats
from tally.embedded.ports import free_port
from tally.embedded.postgres_server import EmbeddedPostgres, with_database

__all__ = ["EmbeddedNats", "EmbeddedPostgres", "ServerStartError", "free_port", "with_database"]
