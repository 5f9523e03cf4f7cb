"""A role imports its own parts only. `tally project` (one process per partition) must not
pay at start-up for SQLAlchemy and the read side (the projections name their tables and
build SQLAlchemy `Table`s only when a replay or the audit asks), nor for the command side,
the payment gateways, the HTTP routes or the operator's dead letters (the composition root
and the command line load those when a role asks): ~0.5 s of CPU per process start,
docs/benchmarks.md, issue 14, session 11."""

import subprocess
import sys

from projections.registry import PROJECTIONS
from read_side.tables import VIEW_TABLES
from tally.bootstrap import bootstrap
from tally.settings import Settings

A_PROJECTORS_START_UP = (
    "import tally.entry, tally.cli, tally.roles.project, projections.runner,"
    " projections.registry, projections.replay"
)
NOT_FOR_A_PROJECTOR = (
    "sqlalchemy",
    "read_side",
    "write_side.command_service",
    "write_side.http",
    "write_side.fulfilment.http_gateway",
    "write_side.fulfilment.simulator",
    "tally.operator.dead_letters",
    "tally.operator.session",
)


def test_the_projector_role_does_not_import_the_other_roles_parts() -> None:
    script = (
        f"import sys; {A_PROJECTORS_START_UP}\n"
        f"print(sorted(p for p in {NOT_FOR_A_PROJECTOR!r}"
        " if any(m == p or m.startswith(p + '.') for m in sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    ).stdout
    assert out.strip() == "[]"


def test_each_view_still_names_the_tables_it_owns() -> None:
    for name, projection in PROJECTIONS.items():
        assert projection.tables == VIEW_TABLES[name]


async def test_the_parts_built_without_io_find_their_lazily_imported_types() -> None:
    """The gateway and the breaker are built on first use from types the root imports
    late; building them must not trip over a name only the type checker saw."""
    async with bootstrap(Settings(payment_seed=1), name="test") as parts:
        gateway = parts.gateway()
        assert type(gateway).__name__ == "SimulatedGateway"
        assert parts.gateway() is gateway  # built once
        assert parts.breaker() is parts.breaker()
