"""A role imports its own parts only: `tally project` (one process per partition) must not
pay for the command side, the payment gateways, the HTTP routes or the operator's dead
letters, which the composition root and the command line load only when a role asks."""

import subprocess
import sys

from tally.bootstrap import bootstrap
from tally.settings import Settings

NOT_FOR_A_PROJECTOR = (
    "write_side.command_service",
    "write_side.http.routes",
    "write_side.fulfilment.http_gateway",
    "write_side.fulfilment.simulator",
    "read_side.http.routes",
    "tally.operator.dead_letters",
    "tally.operator.session",
)


def test_the_projector_role_does_not_import_the_other_roles_parts() -> None:
    script = (
        "import sys, tally.entry, tally.cli, tally.roles.project, projections.runner\n"
        f"print(sorted(m for m in {NOT_FOR_A_PROJECTOR!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    ).stdout
    assert out.strip() == "[]"


async def test_the_parts_built_without_io_find_their_lazily_imported_types() -> None:
    """The gateway and the breaker are built on first use from types the root imports
    late; building them must not trip over a name only the type checker saw."""
    async with bootstrap(Settings(payment_seed=1), name="test") as parts:
        gateway = parts.gateway()
        assert type(gateway).__name__ == "SimulatedGateway"
        assert parts.gateway() is gateway  # built once
        assert parts.breaker() is parts.breaker()
