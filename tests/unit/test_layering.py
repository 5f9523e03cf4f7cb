"""The layering rule of the README, checked by import-linter with the contracts in
pyproject.toml: `tally -> {write_side, projections, read_side} -> http_edge -> events`,
the two sides never import each other, projections touch only the read side's tables,
nothing imports the shell. And the contracts do catch each kind of violation: they are run
over a small tree of the same package names with one forbidden import in it."""

import os
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("tally", "projections", "write_side", "read_side", "http_edge", "events")
LINT = str(Path(sys.executable).with_name("lint-imports"))


def lint(directory: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(directory)}
    return subprocess.run(
        [LINT, "--no-cache", "--no-logo", str(directory / "pyproject.toml")],
        cwd=directory,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_code_keeps_the_layering_rule() -> None:
    run = lint(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def _contracts_only(pyproject: Path) -> str:
    """The [tool.importlinter] table of our pyproject.toml, as a pyproject of its own."""
    table = tomllib.loads(pyproject.read_text())["tool"]["importlinter"]
    lines = ["[tool.importlinter]", f"root_packages = {list(table['root_packages'])!r}"]
    for contract in table["contracts"]:
        lines.append("[[tool.importlinter.contracts]]")
        lines += [f"{key} = {value!r}" for key, value in contract.items()]
    return "\n".join(lines).replace("'", '"') + "\n"


VIOLATIONS = [
    ("read_side", "write_side.domain"),  # the sides never import each other
    ("write_side", "read_side.tables"),
    ("events", "http_edge.problems"),  # events/ imports nothing of ours
    ("http_edge", "read_side.tables"),  # the HTTP edge sits below both sides
    ("write_side", "tally.settings"),  # nothing imports the shell
    ("read_side", "projections.runner"),
    ("projections", "read_side.http.routes"),  # projections: the tables only
    ("projections", "write_side.domain"),
]


def _tree(directory: Path, contracts: str, leaks: list[tuple[str, str]]) -> Path:
    """The six packages, an allowed import (a projection of the read side's tables) and
    one module per leak, `<package>.leak<n>`, importing what it must not."""
    for package in (*PACKAGES, "read_side/http"):
        (directory / package).mkdir(parents=True)
        (directory / package / "__init__.py").write_text("")
    for name in ("read_side.tables", "read_side.http.routes", "write_side.domain"):
        (directory / (name.replace(".", "/") + ".py")).write_text("")
    for name in ("http_edge.problems", "tally.settings", "projections.runner"):
        (directory / (name.replace(".", "/") + ".py")).write_text("")
    (directory / "projections" / "view.py").write_text("import read_side.tables\n")
    for number, (package, imported) in enumerate(leaks):
        (directory / package / f"leak{number}.py").write_text(f"import {imported}\n")
    (directory / "pyproject.toml").write_text(contracts)
    return directory


def test_each_kind_of_violation_breaks_a_contract(tmp_path: Path) -> None:
    contracts = _contracts_only(ROOT / "pyproject.toml")
    trees = [
        _tree(tmp_path / "clean", contracts, []),
        _tree(tmp_path / "leaky", contracts, VIOLATIONS),
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:
        clean, leaky = pool.map(lint, trees)
    assert clean.returncode == 0, clean.stdout  # the tree alone keeps the rule
    assert leaky.returncode != 0 and "BROKEN" in leaky.stdout, leaky.stdout
    report = " ".join(leaky.stdout.split())  # import-linter wraps long lines
    for number, (package, imported) in enumerate(VIOLATIONS):
        assert f"{package}.leak{number} -> {imported}" in report, (package, imported, report)
