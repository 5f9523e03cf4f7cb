"""`tally audit NAME`: each checkpoint row of a view (one per partition) re-counted from
JetStream and compared with its audit counters, and the view's rows with the counters
(projections.audit)."""

from rich.console import Console

from projections.audit import RowAudit, ViewAudit, audit_row, audit_view
from projections.partitions import projectors_of
from projections.registry import get_projection
from tally.operator.session import operator_session
from tally.settings import Settings


async def run_audit(
    settings: Settings, name: str, console: Console, timeout: float
) -> tuple[list[RowAudit], ViewAudit]:
    """Every row's audit and the view's; printed, the verdict last."""
    view = get_projection(name)
    async with operator_session(settings, timeout, database=True) as parts:
        js = (await parts.nats()).jetstream()
        conn = await parts.database()
        rows = projectors_of(view, await parts.layout())
        audits = [await audit_row(conn, js, row) for row in rows]
        whole = await audit_view(conn, view, audits)
    for line in [*(audit.describe() for audit in audits), whole.describe()]:
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    wrong = [audit.name for audit in audits if not audit.ok] + ([] if whole.ok else ["view"])
    console.print(f"{name}: " + (f"WRONG ({', '.join(wrong)})" if wrong else "complete"))
    return audits, whole
