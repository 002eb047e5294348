"""Kind `lambda` catalog entries: error rate, throttles, duration against the timeout, stream sources."""

from __future__ import annotations

import pytest

from infra.plan import alarm_metrics
from tests.support.catalogs import catalog_problems, has_problem
from vigil.spec.common import MissingData
from vigil.spec.lambda_function import LambdaCheck

BASE = {
    "id": "sender",
    "kind": "lambda",
    "severity": "critical",
    "function": "campaign-sender",
    "function_timeout": "30s",
}


def check(**fields: object) -> LambdaCheck:
    return LambdaCheck.model_validate({**BASE, "service": "campaign-api", **fields})


def test_default_rules_and_missing_data():
    spec = check()
    assert spec.active_signals() == ["errors", "throttles", "duration"]
    assert {s: spec.rule(s).describe(spec.signals[s].unit) for s in spec.active_signals()} == {
        "errors": "> 5 % for 3 of 3 minutes",
        "throttles": "> 0 invocations for 3 of 5 minutes",
        "duration": "> 80 % of timeout for 3 of 3 minutes",
    }
    # No invocations publish nothing: neither an error nor slowness.
    assert {spec.rule(s).missing_data for s in spec.active_signals()} == {MissingData.not_breaching}
    assert [alarm_metrics(spec, s) for s in spec.active_signals()] == [2, 1, 1]


def test_stream_sources_add_iterator_age_and_the_function_may_be_an_arn():
    spec = check(stream_source=True, function="arn:aws:lambda:eu-west-2:123456789012:function:campaign-sender")
    assert spec.active_signals()[-1] == "iterator_age"
    assert spec.rule("iterator_age").describe("seconds") == "> 300 seconds for 5 of 5 minutes"
    assert spec.function_name == "campaign-sender"
    assert check(alarms={"duration": {"statistic": "p99"}}).rule("duration").statistic.value == "p99"


@pytest.mark.parametrize(
    ("entry", "fragments"),
    [
        ({"function_timeout": None}, ["check sender: function_timeout:"]),
        ({"function_timeout": "16m"}, ["function_timeout: at most 15m"]),
        ({"alarms": {"iterator_age": {"threshold": 60}}}, ["alarms.iterator_age: only for a stream source"]),
        ({"alarms": {"errors": {"statistic": "Maximum"}}}, ["alarms.errors: statistic is fixed"]),
        ({"function": "campaign sender"}, ["check sender: function:"]),
        ({"alarms": {"duration": {"band": {}}}}, ["alarms.duration.band", "take one: none"]),
    ],
)
def test_bad_entries_say_what_is_allowed(tmp_path, entry, fragments):
    found = catalog_problems(tmp_path, [{**BASE, **entry}])
    assert has_problem(found, *fragments), found
