"""CheckResult → one CloudWatch Embedded Metric Format (EMF) log line.

Lambda ships stdout to CloudWatch Logs, which turns EMF lines into metrics: no PutMetricData
calls to throttle or pay for. Each line carries exactly one dimension, Check=<check id>, because a
CloudWatch alarm matches a metric only on its full dimension set: a stray `service` dimension
(Powertools adds one whenever POWERTOOLS_SERVICE_NAME is set) would leave every alarm watching a
metric nobody writes.

Every run writes MeasureFailed (1: the checker could not measure). A run that could not measure
writes nothing else, so a failure never looks like a healthy value. A kind with a MetricBudget
(vigil.result: http) writes only its budgeted metrics, its other values as plain log fields, and
for a run that could not measure its breaching `failed` value instead of MeasureFailed. The run's status and reason
ride along as plain log fields, so Logs Insights shows why a datapoint is what it is.

POWERTOOLS_METRICS_DISABLED and POWERTOOLS_DEV are deliberately not honoured: these metrics are
the product, not diagnostics, and a silenced checker would page (missing data is breaching).
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from vigil.result import CHECK_DIMENSION, MEASURE_FAILED, METRIC_BUDGETS, METRIC_NAMESPACE, CheckResult, Status

logger = logging.getLogger(__name__)

_VALID_UNITS = frozenset(u.value for u in MetricUnit)


def emit(result: CheckResult) -> str:
    """Print the result as one EMF line and return it. Call once per check: each call is its own flush."""
    line = json.dumps(render(result), separators=(",", ":"))
    print(line, flush=True)
    return line


def render(result: CheckResult) -> dict[str, Any]:
    """The EMF document for one result (pure: no output)."""
    if not result.check_id.strip():
        raise ValueError("a result without a check id has no dimension to emit to")
    # A fresh provider per result: Powertools' Metrics class shares its metric set across
    # instances, which would mix checks when one invocation runs several. service="" (not None)
    # stops Powertools from reading POWERTOOLS_SERVICE_NAME into a dimension.
    emf = EphemeralMetrics(namespace=METRIC_NAMESPACE, service="")
    emf.add_dimension(name=CHECK_DIMENSION, value=result.check_id)
    failed = result.status is Status.failed
    budget = METRIC_BUDGETS.get(result.kind)
    if budget is None or budget.failed is None:
        emf.add_metric(name=MEASURE_FAILED, unit=MetricUnit.NoUnit, value=1 if failed else 0)
    values, log_only = ({}, {}) if failed else split_by_budget(result.kind, result.values)
    if budget is not None and budget.failed is not None and not values:
        # Could not measure, or (a checker bug) measured without its one metric: never healthy.
        values = budget.failed
    for name, value in values.items():
        if name == MEASURE_FAILED:
            continue  # the status decides it, never the checker
        if not math.isfinite(value):
            logger.warning("check %s: metric %s is %s; not emitted", result.check_id, name, value)
            continue
        emf.add_metric(name=name, unit=unit_for(name, result), value=value)
    for key, value in {**log_only, **_run_fields(result)}.items():
        emf.add_metadata(key=key, value=value)
    document = emf.serialize_metric_set()
    _keep_only_check_dimension(document)
    return document


def split_by_budget(kind: str, values: dict[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """(what is written as metrics, what rides in the log line only) under the kind's MetricBudget."""
    budget = METRIC_BUDGETS.get(kind)
    if budget is None:
        return values, {}
    return (
        {k: v for k, v in values.items() if k in budget.metrics},
        {k: v for k, v in values.items() if k not in budget.metrics},
    )


def unit_for(name: str, result: CheckResult) -> str:
    """The checker's own unit first, then the name's convention (…Ms is milliseconds, else a count)."""
    unit = result.units.get(name)
    if unit is None:
        unit = MetricUnit.Milliseconds.value if name.endswith("Ms") else MetricUnit.Count.value
    if unit not in _VALID_UNITS:
        # A bad unit must not cost the datapoint: alarms do not filter on unit.
        logger.warning(
            "check %s: metric %s has unit %r unknown to CloudWatch; sent as None", result.check_id, name, unit
        )
        unit = MetricUnit.NoUnit.value
    return unit


def _run_fields(result: CheckResult) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "kind": result.kind,
        "status": result.status.value,
        "duration_ms": round(result.duration_ms, 1),
    }
    if result.reason_code is not None:
        fields["reason_code"] = result.reason_code
    if result.reason is not None:
        fields["reason"] = result.reason
    if result.samples:
        fields["samples"] = list(result.samples)
    return fields


def _keep_only_check_dimension(document: dict[str, Any]) -> None:
    # Belt and braces against a future Powertools adding default dimensions: alarms match on
    # the exact dimension set, so anything beyond Check would silently break them.
    for directive in document["_aws"]["CloudWatchMetrics"]:
        extra = {name for dims in directive["Dimensions"] for name in dims} - {CHECK_DIMENSION}
        for name in extra:
            document.pop(name, None)
        directive["Dimensions"] = [[CHECK_DIMENSION]]
