"""The shape of the deployment under test: how many processes of each role, and whether
the projectors are partitioned.

Partitioned projectors (`tally project NAME --partitions N --take P,...`) are the default
(2 partitions): `tally migrate` splits ORDERS and STOCK (`TALLY_PARTITIONS`), every view's
projector processes each take all partitions, and the per-partition locks decide which
process is active for which partition (the others stand by for it). `partitions=None`
deploys unpartitioned streams and projectors.
"""

from __future__ import annotations

from dataclasses import dataclass

VIEWS = ("orders", "stock")


@dataclass(frozen=True)
class DeploymentShape:
    apis: int = 2
    fulfils: int = 2
    standbys: int = 2  # `tally project` processes per view (one active, the rest wait)
    partitions: int | None = 2

    def projector_args(self) -> dict[str, list[str]]:
        """process name -> `tally` arguments, for every projector process."""
        take: list[str] = []
        if self.partitions:
            every = ",".join(str(p) for p in range(self.partitions))
            take = ["--partitions", str(self.partitions), "--take", every]
        return {
            f"project-{view}-{index}": ["project", view, *take]
            for view in VIEWS
            for index in range(self.standbys)
        }

    def describe(self) -> str:
        partitions = f", {self.partitions} partitions" if self.partitions else ""
        return (
            f"{self.apis} api, {self.fulfils} fulfil, {self.standbys} projectors per view"
            f"{partitions}"
        )
