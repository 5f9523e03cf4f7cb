"""Fixtures of the fault suite: a report per scenario, printed when the scenario ends."""

from collections.abc import Iterator

import pytest

from support.fault_report import FaultReport


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Iterator[FaultReport]:
    name = request.node.name.removeprefix("test_")
    fault_report = FaultReport(name)
    yield fault_report
    print(fault_report.summary())
