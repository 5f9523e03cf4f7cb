"""The per-role NATS users: docker/nats/nats.conf carries exactly what
tally/nats_permissions.py renders, the config is valid, and no role but the writers may
publish an event subject."""

import os
import re
import subprocess
from pathlib import Path

from tally.embedded.nats_server import find_nats_server
from tally.nats_permissions import accounts_block, role_permissions

CONF = Path(__file__).resolve().parents[2] / "docker" / "nats" / "nats.conf"
EVENT_SUBJECTS = {"orders.*", "stock.*", "payments.*", "orders.>", "stock.>", ">"}


def test_the_docker_config_carries_the_generated_users() -> None:
    assert CONF.read_text().rstrip().endswith(accounts_block()), (
        "docker/nats/nats.conf is out of date: replace its generated part with the output "
        "of `python -m tally.nats_permissions`"
    )


def test_nats_server_accepts_the_docker_config() -> None:
    env = dict(os.environ)  # every variable the config reads, as compose sets them
    env.update({name: "x" for name in re.findall(r"\$(NATS_\w+)", CONF.read_text())})
    env.update({f"NATS_ROUTE_{n}": f"nats-route://route:x@127.0.0.1:{6221 + n}" for n in (1, 2, 3)})
    env.update(NATS_CLUSTER_LISTEN="127.0.0.1:6222", NATS_MONITOR_LISTEN="127.0.0.1:8222")
    checked = subprocess.run(
        [str(find_nats_server()), "-t", "-c", str(CONF)], env=env, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_only_the_writers_publish_events() -> None:
    roles = role_permissions()
    assert set(roles["api"].publish) & EVENT_SUBJECTS == {"orders.*", "stock.*"}
    assert set(roles["fulfil"].publish) & EVENT_SUBJECTS == {"orders.*", "stock.*", "payments.*"}
    assert not set(roles["projector"].publish) & EVENT_SUBJECTS
    assert not set(roles["admin"].publish) & EVENT_SUBJECTS
    # fulfil alone also serves the stock commands its shards ask of each other
    shards = {"fulfil": ("tally.fulfil.stock.>",)}
    for role, permissions in roles.items():
        assert permissions.subscribe == (f"_INBOX_{role}.>", *shards.get(role, ())), role
        assert not any(s.startswith("$JS.API.STREAM.DELETE") for s in permissions.publish) or (
            role == "admin"
        )


def test_no_worker_may_create_or_change_a_stream_or_consumer() -> None:
    """Only admin (`tally migrate`) makes and changes streams and consumers: a worker that
    could would be able to republish into event subjects or deliver into any inbox."""
    forbidden = ["STREAM.CREATE", "STREAM.UPDATE", "STREAM.DELETE", "STREAM.PURGE"]
    forbidden += ["CONSUMER.CREATE", "CONSUMER.DURABLE", "CONSUMER.DELETE"]
    for role, permissions in role_permissions().items():
        if role == "admin":
            continue
        for subject in permissions.publish:
            wildcard = "*" in subject or ">" in subject
            assert subject != ">" and not subject.startswith("$JS.>"), (role, subject)
            assert not (wildcard and subject.startswith("$JS.API.")) or subject.startswith(
                "$JS.API.DIRECT.GET."
            ), (role, subject)
            assert not any(f"$JS.API.{name}" in subject for name in forbidden), (role, subject)
