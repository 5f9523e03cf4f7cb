"""The operator's pure parts: when a projection counts as stalled (one look, looks over
time), what `tally status --check` fails on, env files, finding the command of a line."""

from pathlib import Path

import pytest

from events.partitions import Layout, partition_of
from projections.dlq import DeadLetter
from projections.messages import StoredMessage
from tally.env_file import env_line, parse_env, write_private
from tally.operator.dead_letters import owner_of
from tally.operator.progress import Audit, StallTracker, ViewProgress
from tally.operator.status import StatusReport, problems
from tally.status_output import audited
from tally.stop_signals import command_of
from tally.up_env import kept_port, read_up_env, write_up_env


def view(position: int, last: int, idle: float | None, waiting: float | None) -> ViewProgress:
    return ViewProgress("orders", "ORDERS", position, last, "live", None, idle, waiting)


@pytest.mark.parametrize(
    ("progress", "stalled"),
    [
        (view(10, 10, 3600, None), False),  # caught up, however long ago
        (view(5, 10, 3600, 5), False),  # a burst after a quiet hour: the events are new
        (view(5, 10, 2, 3600), False),  # an old backlog worked off: it moved 2 s ago
        (view(5, 10, 61, 61), True),  # lagging, standing still, events waiting
        (view(0, 10, None, 61), True),  # never ran, events waiting
    ],
)
def test_one_look(progress: ViewProgress, stalled: bool) -> None:
    assert progress.stalled(60) is stalled
    assert progress.as_json(60)["stalled"] is stalled


def test_looks_over_time() -> None:
    now = [0.0]
    tracker = StallTracker(60, clock=lambda: now[0])
    assert tracker.stalled("orders", 5, 10) is None  # first look: since now
    now[0] = 59
    assert tracker.stalled("orders", 5, 10) is None
    now[0] = 61
    assert tracker.stalled("orders", 5, 10) == 61
    assert tracker.stalled("orders", 6, 9) is None  # it moved: since then
    now[0] = 200
    assert tracker.stalled("orders", 9, 0) is None  # caught up: forgotten
    assert tracker.stalled("orders", 9, 4) is None


def report(**changes: object) -> StatusReport:
    values: dict[str, object] = {
        "streams": [],
        "consumers": [],
        "projections": [view(10, 10, 1, None)],
        "dead_letters": {},
        "breaker": None,
        "taken_at": 1000.0,
    }
    return StatusReport(**(values | changes))  # type: ignore[arg-type]


def test_what_the_check_fails_on() -> None:
    assert problems(report(), max_lag=0, stall_seconds=60) == []
    assert problems(report(projections=[view(5, 10, 1, 1)]), max_lag=4, stall_seconds=60) == [
        "projection orders lags 5 events (--max-lag 4)"
    ]
    assert problems(report(projections=[view(5, 10, 1, 1)]), max_lag=None, stall_seconds=60) == []
    ahead = problems(report(projections=[view(12, 10, 1, None)]), max_lag=0, stall_seconds=60)
    assert ahead == [
        "projection orders is ahead of its stream (position 12, ORDERS ends at 10: "
        "restored streams?): replay it"
    ]
    stalled = problems(report(projections=[view(5, 10, 90, 90)]), max_lag=None, stall_seconds=60)
    assert stalled == [
        "projection orders is stalled: 5 events behind, no progress for 90 s "
        "(TALLY_READY_STALL_SECONDS=60)"
    ]
    assert problems(report(dead_letters={"stock": 2}), max_lag=None, stall_seconds=60) == [
        "2 dead letter(s) of projection stock (tally dlq list)"
    ]
    opened = {"state": "open", "retry_after": 30.0, "updated_at": 990.0, "failures": 5}
    assert problems(report(breaker=opened), max_lag=None, stall_seconds=60) == [
        "the payment breaker is open (payments are parked)"
    ]
    waited = opened | {"updated_at": 900.0}  # its wait is over: half-open, not failing
    assert problems(report(breaker=waited), max_lag=None, stall_seconds=60) == []


def test_env_files_round_trip(tmp_path: Path) -> None:
    values = {"A": "nats://a:1,nats://b:2", "B": "it's here & there", "C": "", "D": "x*y"}
    text = "# a comment\n" + "".join(env_line(k, v) + "\n" for k, v in values.items())
    assert env_line("A", values["A"]) == "A=nats://a:1,nats://b:2"  # bare: Docker reads it
    assert parse_env(text) == values
    write_private(tmp_path / "env", text.splitlines())
    assert (tmp_path / "env").stat().st_mode & 0o777 == 0o600
    assert parse_env((tmp_path / "env").read_text()) == values


def test_the_file_of_tally_up(tmp_path: Path) -> None:
    assert read_up_env(tmp_path) is None
    url = "postgresql://postgres:pw@127.0.0.1:5433/tally"
    write_up_env(tmp_path, nats_url="nats://127.0.0.1:4333", database_url=url, api_url="x")
    found = read_up_env(tmp_path)
    assert found is not None and (found.nats_url, found.database_url) == (
        "nats://127.0.0.1:4333",
        url,
    )
    assert kept_port(found.nats_url) == 4333 and kept_port(url) == 5433
    assert kept_port("nats://db.example:4222") is None  # not ours to take
    assert kept_port("nats://127.0.0.1:1,nats://127.0.0.1:2") is None


def test_the_command_of_a_command_line() -> None:
    assert command_of(["tally", "project", "orders"]) == "project"
    assert command_of(["tally", "--version"]) is None
    assert command_of(["tally", "dlq", "list"]) == "dlq"


def test_the_audit_counters_in_status() -> None:
    complete = Audit(applied=7, dead=2, ignored=1, complete=True)
    assert audited(complete) == "7 / 2 / 1 ok"
    assert audited(None) == "-"  # never ran
    broken = ViewProgress("orders/1", "ORDERS", 10, 10, "live", 1, 1, None, Audit(7, 2, 0, False))
    assert broken.as_json(60)["name"] == "orders"  # the view, as GET /projections
    assert broken.as_json(60)["partition"] == 1
    assert broken.as_json(60)["audit"] == {"applied": 7, "dead": 2, "ignored": 0, "complete": False}


def test_a_retried_dead_letter_belongs_to_its_partition() -> None:
    order = "3f2c8a9e-1b7d-4c51-9d1e-2a6f0e4b8c11"
    original = StoredMessage("ORDERS", 12, f"orders.{order}", b"{}", {})
    letter = DeadLetter(seq=1, projection="orders", error="x", attempts=5, original=original)
    assert owner_of(letter, Layout()).name == "orders"  # a whole view: its one row
    owner = owner_of(letter, Layout({"ORDERS": 4}))
    assert owner.name == f"orders/{partition_of(order, 4)}"
