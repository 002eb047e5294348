"""Kind `dynamodb` catalog entries: CloudWatch's fixed missing-data rule, replicas, the system errors sum."""

from __future__ import annotations

import pytest

from infra.plan import alarm_metrics
from tests.support.catalogs import catalog_problems, has_problem
from vigil.spec.common import MissingData
from vigil.spec.dynamodb import OPERATIONS, DynamoDbCheck

BASE = {"id": "results", "kind": "dynamodb", "severity": "warning", "table": "campaign-results"}


def check(**fields: object) -> DynamoDbCheck:
    return DynamoDbCheck.model_validate({**BASE, "service": "campaign-db", **fields})


def test_default_rules_all_ignore_missing_data_as_cloudwatch_does_for_dynamodb():
    spec = check()
    assert spec.active_signals() == ["read_throttles", "write_throttles", "system_errors"]
    assert {s: spec.rule(s).describe(spec.signals[s].unit) for s in spec.active_signals()} == {
        "read_throttles": "> 0 requests for 3 of 5 minutes",
        "write_throttles": "> 0 requests for 3 of 5 minutes",
        "system_errors": "> 0 requests for 2 of 3 minutes",
    }
    assert {spec.rule(s).missing_data for s in spec.signals} == {MissingData.ignore}
    # system_errors sums one series per operation: the 10 metrics an alarm may read.
    assert len(OPERATIONS) == alarm_metrics(spec, "system_errors") == 10


def test_replica_regions_add_replication_latency_on_the_slowest():
    spec = check(replica_regions=["eu-west-1", "us-east-1"])
    assert spec.active_signals()[-1] == "replication_latency"
    assert spec.rule("replication_latency").describe("ms") == "> 60000 ms for 5 of 5 minutes"
    assert alarm_metrics(spec, "replication_latency") == 2


@pytest.mark.parametrize(
    ("entry", "fragments"),
    [
        (
            {"alarms": {"read_throttles": {"missing_data": "breaching"}}},
            ["alarms.read_throttles.missing_data: CloudWatch always ignores missing data for AWS/DynamoDB"],
        ),
        ({"alarms": {"replication_latency": {"threshold": 5000}}}, ["the check lists no replica_regions"]),
        ({"replica_regions": ["eu-west-1", "eu-west-1"]}, ["replica_regions: a region is listed twice"]),
        ({"replica_regions": ["Ireland"]}, ["check results: replica_regions.0:"]),
        ({"table": "ab"}, ["check results: table:"]),
        ({"alarms": {"system_errors": {"statistic": "Maximum"}}}, ["alarms.system_errors: statistic is fixed"]),
    ],
)
def test_bad_entries_say_what_is_allowed(tmp_path, entry, fragments):
    found = catalog_problems(tmp_path, [{**BASE, **entry}])
    assert has_problem(found, *fragments), found
