"""Reading the Embedded Metric Format lines a checker prints, the way CloudWatch Logs would."""

from __future__ import annotations

import json
from typing import Any


def emf_lines(stdout: str) -> list[dict[str, Any]]:
    """Every stdout line that is an EMF document."""
    found = []
    for line in stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        document = json.loads(line)
        if isinstance(document, dict) and "_aws" in document:
            found.append(document)
    return found


def only_emf(stdout: str) -> dict[str, Any]:
    lines = emf_lines(stdout)
    assert len(lines) == 1, f"expected exactly one EMF line, got {len(lines)}: {stdout!r}"
    return lines[0]


def metric_values(document: dict[str, Any]) -> dict[str, float]:
    """Metric name → its single value, only for metrics the directive declares."""
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    values = {}
    for metric in directive["Metrics"]:
        raw = document[metric["Name"]]
        (value,) = raw if isinstance(raw, list) else [raw]
        values[metric["Name"]] = value
    return values


def metric_units(document: dict[str, Any]) -> dict[str, str]:
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    return {metric["Name"]: metric["Unit"] for metric in directive["Metrics"]}


def assert_vigil_emf(document: dict[str, Any], check_id: str, expected: dict[str, float]) -> None:
    """Namespace Vigil, dimension Check=<id> and nothing else, exactly these metrics and values."""
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Vigil"
    assert directive["Dimensions"] == [["Check"]]
    assert document["Check"] == check_id
    assert "service" not in document
    assert isinstance(document["_aws"]["Timestamp"], int)
    assert metric_values(document) == expected
