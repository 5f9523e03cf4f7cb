"""A projector's start-up does not import SQLAlchemy: the projections name their tables and
build the SQLAlchemy `Table`s (read_side.tables) only when a replay or the audit asks for
them (~0.2 s of CPU per process start, docs/benchmarks.md, issue 14, session 11)."""

import subprocess
import sys

from projections.registry import PROJECTIONS
from read_side.tables import VIEW_TABLES


def test_the_projector_modules_import_without_sqlalchemy() -> None:
    code = (
        "import sys; import projections.runner, projections.registry, projections.replay;"
        " print(sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'read_side'}))"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"


def test_each_view_still_names_the_tables_it_owns() -> None:
    for name, projection in PROJECTIONS.items():
        assert projection.tables == VIEW_TABLES[name]
