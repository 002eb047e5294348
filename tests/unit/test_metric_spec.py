"""Kind `metric` catalog entries: one metric or an expression, the rule the catalog must give."""

from __future__ import annotations

import pytest

from infra.plan import alarm_metrics
from tests.support.catalogs import catalog_problems, has_problem
from vigil.spec.metric import MetricCheck

ONE = {
    "id": "orders",
    "kind": "metric",
    "severity": "warning",
    "metric": {"namespace": "Campaigns", "name": "OrdersPlaced", "dimensions": {"Env": "prod"}},
    "alarms": {"value": {"threshold": 10, "comparison": "<", "missing_data": "breaching"}},
}
MATH = {
    "id": "bounces",
    "kind": "metric",
    "severity": "warning",
    "unit": "%",
    "expression": "100 * FILL(bounced, 0) / sent",
    "metrics": {
        "bounced": {"namespace": "Campaigns", "name": "Bounced", "statistic": "Sum"},
        "sent": {"namespace": "Campaigns", "name": "Sent", "statistic": "Sum"},
    },
    "alarms": {"value": {"threshold": 5, "missing_data": "notBreaching"}},
}


def check(entry: dict, **fields: object) -> MetricCheck:
    return MetricCheck.model_validate({**entry, "service": "campaign-api", **fields})


def test_one_metric_takes_the_catalogs_rule_and_a_band():
    spec = check(ONE)
    assert spec.rule("value").describe() == "< 10 for 3 of 3 minutes"
    assert spec.rule("value").statistic.value == "Average"
    assert alarm_metrics(spec, "value") == 1
    banded = check(ONE, alarms={"value": {"band": {"side": "below"}, "missing_data": "breaching"}})
    assert banded.rule("value").describe() == "below the anomaly band (2 standard deviations) for 3 of 3 minutes"


def test_an_expression_in_its_unit_priced_per_metric():
    spec = check(MATH)
    assert spec.rule("value").describe(spec.signals["value"].unit) == "> 5 % for 3 of 3 minutes"
    assert alarm_metrics(spec, "value") == 2
    query = 'SELECT AVG(CPUUtilization) FROM SCHEMA("AWS/EC2", InstanceId)'
    assert check(MATH, expression=query, metrics={}).expression == query


@pytest.mark.parametrize(
    ("entry", "fragments"),
    [
        ({**ONE, "expression": "a"}, ["give one of metric (one metric) or expression", "found both"]),
        ({**ONE, "metric": None}, ["found neither"]),
        ({**ONE, "alarms": {"value": {"missing_data": "ignore"}}}, ["alarms.value.threshold: required"]),
        ({**ONE, "alarms": {}}, ["alarms.value.threshold: required"]),
        ({**ONE, "alarms": {"value": {"threshold": 1}}}, ["alarms.value.missing_data: required"]),
        ({**ONE, "metrics": MATH["metrics"]}, ["metrics: only with an expression"]),
        (
            {**MATH, "expression": "100 * errors / sent"},
            ["expression: unknown metric id errors; metrics: bounced, sent"],
        ),
        ({**MATH, "expression": "100 * bounced"}, ["metrics: sent not used in the expression"]),
        ({**MATH, "expression": "SEARCH('{AWS/EC2} CPUUtilization', 'Average')"}, ["cannot alarm on a SEARCH"]),
        (
            {**MATH, "expression": "SELECT MAX(Sent) FROM Campaigns"},
            ["a Metrics Insights query", "reads no other metric"],
        ),
        (
            {**MATH, "alarms": {"value": {"threshold": 5, "missing_data": "ignore", "statistic": "Sum"}}},
            ["alarms.value.statistic: an expression has none"],
        ),
        (
            {**MATH, "alarms": {"value": {"band": {}, "missing_data": "ignore"}}},
            ["alarms.value.band: an anomaly band fits only a signal that reads one plain metric"],
        ),
        ({**ONE, "metric": {"namespace": ":x", "name": "y"}}, ["check orders: metric.namespace:"]),
        ({**MATH, "metrics": {"Bad-Id": MATH["metrics"]["sent"]}}, ["metrics.Bad-Id.[key]"]),
    ],
)
def test_bad_entries_say_what_is_allowed(tmp_path, entry, fragments):
    found = catalog_problems(tmp_path, [entry])
    assert has_problem(found, *fragments), found
