"""Kind `elasticsearch` as synthesized: its alarms, the schedule's input, the checker's secret
read permission and its VPC placement."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from conftest import ENV, SAMPLE, Synth, assert_reads_catalog_secrets_by_prefix, schedule_event, secret_statements

from infra.catalog import load_catalog
from vigil.alarm_meta import alarm_name, decode_description
from vigil.spec.elasticsearch import ElasticsearchCheck

pytestmark = pytest.mark.slow

HANDLER = "vigil.checkers.elasticsearch.handler"
SECRET = "vigil/campaign-logs/elasticsearch-monitoring"  # campaign-logs-elasticsearch in checks/_settings.yaml
VPC = {
    "vpc_id": "vpc-0123456789abcdef0",
    "subnet_ids": ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"],
    "security_group_ids": ["sg-0123456789abcdef0"],
}
CHECKS = [
    {
        "id": "api-slow-requests",
        "kind": "elasticsearch",
        "severity": "warning",
        "cadence": "5m",
        "url": "https://search-logs.eu-west-1.es.amazonaws.com",
        "index": "logs-campaign-*",
        "query": {"term": {"service.name": "campaign-api"}},
        "window": "10m",
        "aggregation": {"type": "max", "field": "duration_ms"},
        "alarms": {"count": {"threshold": 100}, "aggregate": {"threshold": 5000}},
    },
    {
        "id": "api-error-logs",
        "kind": "elasticsearch",
        "severity": "critical",
        "url": "https://logs.campaigns.internal:9200",
        "index": "logs-campaign-*",
        "query": "log.level:ERROR",
        "auth_secret": "campaign-logs-elasticsearch",
        "timeout": 20,
        "vpc": VPC,
    },
]


@pytest.fixture(scope="module")
def catalog_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("catalog") / "catalog"
    root.mkdir()
    shutil.copy(SAMPLE / "_settings.yaml", root)
    (root / "logs.yaml").write_text(yaml.safe_dump({"service": "campaign-api", "team": "campaigns", "checks": CHECKS}))
    return root


@pytest.fixture(scope="module")
def synth(synthesize: Callable[[Path], Synth], catalog_dir: Path) -> Synth:
    return synthesize(catalog_dir)


def alarms_of(synth: Synth) -> dict[str, dict]:
    return {a["Properties"]["AlarmName"]: a["Properties"] for a in synth.of_type("AWS::CloudWatch::Alarm").values()}


def checker_functions(synth: Synth) -> dict[str, dict]:
    return {
        logical_id: f["Properties"]
        for logical_id, f in synth.of_type("AWS::Lambda::Function").items()
        if f["Properties"]["Handler"] == HANDLER
    }


def test_an_alarm_per_active_signal_on_the_checkers_metrics(synth: Synth) -> None:
    alarms = alarms_of(synth)
    expected = {
        ("api-slow-requests", "count"): ("Hits", 100),
        ("api-slow-requests", "aggregate"): ("Aggregate", 5000),
        ("api-slow-requests", "measure"): ("MeasureFailed", 1),
        ("api-error-logs", "count"): ("Hits", 0),
        ("api-error-logs", "measure"): ("MeasureFailed", 1),
    }
    ours = {name for name in alarms if name.startswith(f"vigil-{ENV}-api-")}
    assert ours == {alarm_name(ENV, check, signal) for check, signal in expected}
    for (check, signal), (metric, threshold) in expected.items():
        props = alarms[alarm_name(ENV, check, signal)]
        assert (props["Namespace"], props["MetricName"]) == ("Vigil", metric)
        assert props["Dimensions"] == [{"Name": "Check", "Value": check}]
        assert props["Threshold"] == threshold
        _, meta = decode_description(props["AlarmDescription"])
        assert meta is not None and (meta.check, meta.signal, meta.kind) == (check, signal, "elasticsearch")
    count = alarms[alarm_name(ENV, "api-slow-requests", "count")]
    assert (count["ComparisonOperator"], count["Period"], count["EvaluationPeriods"]) == (
        "GreaterThanThreshold",
        300,
        1,
    )
    assert count["TreatMissingData"] == "ignore"  # a run without an exact count must not look like a recovery
    assert alarms[alarm_name(ENV, "api-error-logs", "measure")]["TreatMissingData"] == "breaching"


def test_each_check_is_scheduled_with_its_spec_and_secret_ids(synth: Synth, catalog_dir: Path) -> None:
    catalog = load_catalog(catalog_dir)
    events = [schedule_event(s["Properties"]) for s in synth.of_type("AWS::Scheduler::Schedule").values()]
    by_id = {e["check"]["id"]: e for e in events if e["check"]["kind"] == "elasticsearch"}
    assert set(by_id) == {"api-slow-requests", "api-error-logs"}
    for check_id, event in by_id.items():
        assert ElasticsearchCheck.model_validate(event["check"]) == catalog.by_id(check_id)
    assert by_id["api-error-logs"]["secrets"] == {"campaign-logs-elasticsearch": SECRET}
    assert by_id["api-slow-requests"]["secrets"] == {}


def test_one_checker_per_placement_the_private_one_in_its_subnets_reading_the_secret(synth: Synth) -> None:
    functions = checker_functions(synth)
    assert len(functions) == 2
    (private_id,) = [k for k, f in functions.items() if "VpcConfig" in f]
    (public_id,) = [k for k in functions if k != private_id]
    vpc = functions[private_id]["VpcConfig"]
    assert sorted(vpc["SubnetIds"]) == VPC["subnet_ids"]
    assert vpc["SecurityGroupIds"] == VPC["security_group_ids"]
    # Sized for its slowest check: 20 s timeout + margin, within the 1-minute cadence.
    assert 20 < functions[private_id]["Timeout"] < 60

    def role(function_id: str) -> str:
        return functions[function_id]["Role"]["Fn::GetAtt"][0]

    assert SECRET.startswith("vigil/")  # read through the prefix grant (infra.secret_convention)
    assert_reads_catalog_secrets_by_prefix(secret_statements(synth, role(private_id)))
    assert secret_statements(synth, role(public_id)) == []
