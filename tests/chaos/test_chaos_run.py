"""The short form of the chaos run, in every `scripts/test`: two minutes of random
commands against a 3-node NATS cluster, PostgreSQL and two processes of every role, with
faults of every kind injected at random, then every answer checked against the model.
A failure prints the seed and the minimal history of each violation; run it again with
`python -m chaos --seed SEED --minutes 2`. The seeds are fixed so that a failure here is
one anybody can replay; `python -m chaos` without `--seed` explores new ones."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SEEDS = (2101,)
pytestmark = pytest.mark.chaos


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("seed", SEEDS)
def test_a_two_minute_chaos_run_keeps_every_promise(seed: int) -> None:
    kept = Path(tempfile.mkdtemp(prefix=f"tally-chaos-test-{seed}-", dir="/tmp"))
    command = [sys.executable, "-m", "chaos", "--seed", str(seed), "--minutes", "2"]
    done = subprocess.run(
        [*command, "--keep", str(kept)], cwd=ROOT, capture_output=True, text=True, timeout=1100
    )
    print(done.stdout[-6000:])
    # a failed run keeps its history and every process's log for a look
    where = f"\nhistory and logs kept in {kept}"
    assert done.returncode == 0, done.stdout[-12000:] + done.stderr[-4000:] + where
    shutil.rmtree(kept, ignore_errors=True)
    summary = re.search(r"^CHAOS (.*)$", done.stdout, re.MULTILINE)
    assert summary is not None, done.stdout[-3000:]
    figures = dict(pair.split("=", 1) for pair in summary.group(1).split())
    assert figures["violations"] == "0"
    assert int(figures["operations"]) > 500 and int(figures["events"]) > 500
    kinds = set(re.findall(r"^ +[\d.]+s-.*?s (\w+) ", done.stdout, re.MULTILINE))
    assert len(kinds) >= 4, f"only {sorted(kinds)} faults were injected"
