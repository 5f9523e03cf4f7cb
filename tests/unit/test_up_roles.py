"""`tally up`'s role processes: the API, fulfilment and the projectors, each a `tally`
command on the embedded servers; the API reads the others' metrics from loopback ports."""

from pathlib import Path

from pydantic import SecretStr

from tally.roles.up import role_children, server_env
from tally.settings import Settings


def test_each_role_is_a_process_of_its_own_on_the_embedded_servers() -> None:
    given = Settings(
        nats_url="nats://127.0.0.1:4222", database_url=SecretStr("postgresql://u:p@h/db")
    )
    servers = server_env(given, Path("/srv/tally"))
    assert servers == {
        "NATS_URL": "nats://127.0.0.1:4222",
        "DATABASE_URL": "postgresql://u:p@h/db",
        "TALLY_DATA_DIR": "/srv/tally",
    }
    children = {c.name: c for c in role_children(Settings(host="0.0.0.0", port=8123), servers)}
    assert set(children) == {"api", "fulfil", "project"}
    for child in children.values():
        assert child.env["NATS_URL"] == "nats://127.0.0.1:4222"
        assert child.env["DATABASE_URL"] == "postgresql://u:p@h/db"
        assert child.argv()[1:4] == ["-P", "-m", "tally.cli"]
    api = list(children["api"].args)
    assert api[:5] == ["api", "--host", "0.0.0.0", "--port", "8123"]
    assert "--published-breaker" in api
    for role in ("fulfil", "project"):
        env = children[role].env
        assert list(children[role].args) == [role]
        assert env["TALLY_HOST"] == "127.0.0.1"  # metrics on loopback, whatever the API's host
        assert f"{role}=http://127.0.0.1:{env['TALLY_METRICS_PORT']}/metrics" in api
