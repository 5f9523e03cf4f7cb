"""The bench cannot rot: `python -m bench --quick` measures every row of the table on tiny
sizes (its own NATS servers, PostgreSQL and role processes) and writes the JSON. The figures
of a quick run mean nothing; the full bench is never part of the test command."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.bench,
    pytest.mark.skipif(shutil.which("wrk") is None, reason="needs wrk: apt-get install -y wrk"),
]


@pytest.mark.timeout(600)
def test_quick_bench_measures_every_row(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=540,  # the partition curve starts 7 projectors; the machine is often shared
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    document = json.loads(out.read_text())
    rows = {row["name"]: row for row in document["rows"]}
    assert len(rows) == 34
    # a part of the CPU breakdown may round to 0 clock ticks on a quick run's few orders, and
    # `tally up` at a fixed load should have no errors
    parts = {name for name in rows if name.lstrip().startswith("... of which")}
    assert len(parts) == 5
    zero = parts | {name for name in rows if name.endswith("not answered 2xx")}
    assert all(row["runs"] and row["median"] > 0 for n, row in rows.items() if n not in zero), rows
    assert all(rows[name]["median"] >= 0 for name in zero), rows
    assert all(row["met"] in ("yes", "NO") for row in rows.values() if row["target"])
    assert all(baseline["runs"] for baseline in document["baselines"])
    assert document["settings"]["postgres"].startswith("synchronous_commit")
    assert "| measure" in done.stdout and "ratio" in done.stdout
    # what fulfilment did in the confirm run: each order placed was delivered, no more
    # orders decided than placed, nats-server's messages counted
    (confirm,) = document["confirm_runs"]
    assert confirm["deliveries"] >= confirm["placed"] > 0, confirm
    assert confirm["tally_fulfilment_orders_total"] <= confirm["placed"], confirm
    assert confirm["nats_out_msgs_per_order"] > 0, confirm
