"""The PromQL expressions of docker/observability/: every dashboard panel's and every alert
rule's (as the Prometheus that loaded alerts.yml reports them), in a form a test can
evaluate against a real Prometheus."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
OBSERVABILITY = ROOT / "docker" / "observability"
ALERTS = OBSERVABILITY / "prometheus" / "alerts.yml"
DASHBOARDS = OBSERVABILITY / "grafana" / "dashboards"
_COMPARISONS = ("==", "!=", ">=", "<=", ">", "<")
_METRIC_NAME = re.compile(r"\b(?:tally|process)_[a-z_]+\b|\bup\b(?=\s*\{)")


@dataclass(frozen=True)
class Expression:
    where: str  # "dashboard tally.json, panel 'Projection lag'" or "alert TallyDeadLetters"
    promql: str


def dashboard_expressions(rate_interval: str) -> list[Expression]:
    """Every target of every panel of every dashboard, with Grafana's `$__rate_interval`
    replaced by `rate_interval` (other variables are not used by our panels)."""
    found = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        for panel in panels(json.loads(path.read_text(encoding="utf-8"))):
            for target in panel.get("targets", []):
                promql = target["expr"].replace("$__rate_interval", rate_interval)
                found.append(Expression(f"{path.name}, panel {panel['title']!r}", promql))
    return found


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """The panels, those inside collapsed rows included, rows themselves left out."""
    found = []
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            found.extend(panel.get("panels", []))
        else:
            found.append(panel)
    return found


def alert_expressions(rules: list[dict[str, Any]]) -> list[Expression]:
    """Each alerting rule's expression (`rules`: Prometheus' /api/v1/rules groups) with its
    thresholds turned into 0/1 (`> bool 0`): the condition need not hold, but every
    series it compares must exist."""
    return [
        Expression(f"alert {rule['name']}", with_bool_comparisons(rule["query"]))
        for group in rules
        for rule in group["rules"]
        if rule["type"] == "alerting"
    ]


def metric_names(promql: str) -> set[str]:
    """The metric names an expression selects (ours all start with tally_ or process_)."""
    return set(_METRIC_NAME.findall(_outside_strings(promql)))


def with_bool_comparisons(promql: str) -> str:
    """`a > 0` -> `a > bool 0` for every comparison outside label matchers and strings."""
    out: list[str] = []
    depth, quote, i = 0, "", 0
    while i < len(promql):
        char = promql[i]
        if quote:
            if char == "\\":
                out.append(promql[i : i + 2])
                i += 2
                continue
            quote = "" if char == quote else quote
        elif char in "\"'`":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif depth == 0:
            operator = next((op for op in _COMPARISONS if promql.startswith(op, i)), None)
            if operator:
                rest = promql[i + len(operator) :]
                out.append(operator if rest.lstrip().startswith("bool") else operator + " bool")
                i += len(operator)
                continue
        out.append(char)
        i += 1
    return "".join(out)


def _outside_strings(promql: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', promql)
