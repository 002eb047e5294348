"""The sample catalog's stack, resource by resource (aws_cdk.assertions on the synthesized template)."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match, Template
from conftest import (
    ENV,
    SAMPLE,
    Synth,
    assert_reads_catalog_secrets_by_prefix,
    resource_tail,
    schedule_event,
    secret_statements,
)

from infra import split
from infra.catalog import load_catalog, secret_refs
from infra.jitter import schedule_expression
from infra.kinds import KINDS
from infra.secret_convention import by_prefix
from infra.sizing import checker_groups
from vigil.alarm_meta import alarm_name, decode_description
from vigil.result import CHECK_DIMENSION, METRIC_NAMESPACE

pytestmark = pytest.mark.slow

CATALOG = load_catalog(SAMPLE)
CATALOG_IDS = {c.id for c in CATALOG.checks}
CW = {
    ">": "GreaterThanThreshold",
    ">=": "GreaterThanOrEqualToThreshold",
    "<": "LessThanThreshold",
    "<=": "LessThanOrEqualToThreshold",
}


@pytest.fixture(scope="module")
def template(sample: Synth) -> Template:
    return Template.from_json(sample.template)


def _alarms_by_name(sample: Synth) -> dict[str, dict]:
    return {a["Properties"]["AlarmName"]: a["Properties"] for a in sample.of_type("AWS::CloudWatch::Alarm").values()}


def test_kms_key_rotates_and_lets_cloudwatch_use_it(template: Template) -> None:
    template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "EnableKeyRotation": True,
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                            }
                        )
                    ]
                )
            },
        },
    )


def test_route_topics_are_named_encrypted_and_ssl_only(sample: Synth) -> None:
    topics = sample.of_type("AWS::SNS::Topic")
    names = {t["Properties"].get("TopicName") for t in topics.values()}
    assert {f"vigil-{ENV}-{r}" for r in CATALOG.settings.routes} <= names
    for topic in topics.values():
        assert "KmsMasterKeyId" in topic["Properties"]
    policies = sample.of_type("AWS::SNS::TopicPolicy").values()
    ssl_only = [
        p
        for p in policies
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
    ]
    assert len(ssl_only) == len(topics)


def test_email_and_sms_subscriptions_follow_the_routes(sample: Synth) -> None:
    subs = {
        (s["Properties"]["Protocol"], json.dumps(s["Properties"]["Endpoint"]).strip('"'))
        for s in sample.of_type("AWS::SNS::Subscription").values()
    }
    settings = CATALOG.settings
    for route in settings.routes.values():
        for contact in route.email:
            assert ("email", settings.contacts[contact].email) in subs
        for contact in route.sms:
            assert ("sms", settings.contacts[contact].sms) in subs
    assert any(protocol == "lambda" for protocol, _ in subs)


def test_a_schedule_per_checker_check_with_the_spec_as_input(sample: Synth) -> None:
    schedules = [s["Properties"] for s in sample.of_type("AWS::Scheduler::Schedule").values()]
    checker_checks = [c for c in CATALOG.checks if c.has_checker]
    assert len(schedules) == len(checker_checks)
    by_id = {schedule_event(s)["check"]["id"]: s for s in schedules}
    for check in checker_checks:
        schedule = by_id[check.id]
        event = schedule_event(schedule)
        assert type(check).model_validate(event["check"]) == check
        assert set(event["secrets"]) == set(secret_refs(check).values())
        for name, ref in event["secrets"].items():
            assert CATALOG.settings.secrets[name] == ref
        # every cadence, at the check's own minute (infra.jitter)
        assert schedule["ScheduleExpression"] == schedule_expression(
            check.id, check.cadence, getattr(check, "timeout", 0)
        )
        assert schedule["Target"]["RetryPolicy"]["MaximumRetryAttempts"] >= 1
        assert "DeadLetterConfig" in schedule["Target"]


def _checks_run_by(props: dict) -> list:
    """The catalog checks a checker function runs: its kind from the handler, its placement from the description."""
    kind = props["Handler"].split(".")[-2]
    placement = props["Description"].rsplit("(", 1)[-1].rstrip(")")
    return [
        c
        for c in CATALOG.checks
        if c.kind == kind and (getattr(c, "vpc", None).vpc_id if getattr(c, "vpc", None) else "public") == placement
    ]


def test_functions_runtime_architecture_timeout_and_logs(sample: Synth) -> None:
    functions = [f["Properties"] for f in sample.of_type("AWS::Lambda::Function").values()]
    expected = {f"{KINDS[c.kind].checker_module}.handler" for c in CATALOG.checks if c.has_checker}
    # The heartbeat kind adds its ping endpoint (docs/catalog.md, kind heartbeat).
    endpoint = {"vigil.heartbeat.endpoint.handler"} if any(c.kind == "heartbeat" for c in CATALOG.checks) else set()
    # Critical routes repeat by default: the acknowledgement function (infra/paging.py).
    notifier = {"vigil.notifier.handler.handler", "vigil.notifier.ack.handler"}
    assert {f["Handler"] for f in functions} == expected | notifier | endpoint
    for props in functions:
        assert props["Runtime"] == "python3.12"
        assert props["Architectures"] == ["arm64"]
        # Checkers are not traced: a trace per run would cost more than a 1-minute check (docs/performance.md).
        traced = not props["Handler"].startswith("vigil.checkers.")
        assert props.get("TracingConfig") == ({"Mode": "Active"} if traced else None)
        group = sample.resources[props["LoggingConfig"]["LogGroup"]["Ref"]]
        assert group["Properties"]["RetentionInDays"] > 0
        if props["Handler"].startswith("vigil.checkers."):
            checks = _checks_run_by(props)
            assert checks, props["Description"]
            slowest = max(getattr(c, "timeout", 0) for c in checks)
            assert slowest < props["Timeout"] < min(c.cadence for c in checks), props["Description"]
    notifier = next(f for f in functions if f["Handler"] == "vigil.notifier.handler.handler")
    assert {"TOPIC_ARN_PREFIX", "FALLBACK_ROUTE", "DASHBOARD_NAME", "VIGIL_ENV"} <= set(
        notifier["Environment"]["Variables"]
    )
    for config in sample.of_type("AWS::Lambda::EventInvokeConfig").values():
        assert "OnFailure" in config["Properties"]["DestinationConfig"]


def test_alarms_say_where_their_checker_logs_and_the_notifier_may_read_only_there(sample: Synth) -> None:
    functions = [f["Properties"] for f in sample.of_type("AWS::Lambda::Function").values()]
    checker_groups = {
        sample.resources[f["LoggingConfig"]["LogGroup"]["Ref"]]["Properties"]["LogGroupName"]
        for f in functions
        if f["Handler"].startswith("vigil.checkers.")
    }
    assert all(group.startswith(f"/vigil/{ENV}/checkers/") for group in checker_groups)
    named = set()
    for props in _alarms_by_name(sample).values():
        _, meta = decode_description(props["AlarmDescription"])
        assert meta is not None
        if meta.check in CATALOG_IDS and CATALOG.by_id(meta.check).has_checker:
            named.add(meta.logs)
        else:
            assert meta.logs is None, meta.check
    assert named == checker_groups
    (statement,) = [
        s
        for p in sample.of_type("AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Action"] == "logs:FilterLogEvents"
    ]
    # The checkers' log groups and the ECS event log groups (vigil.notifier.ecs_evidence), each by its prefix.
    granted = sorted(json.dumps(r) for r in statement["Resource"])
    assert len(granted) == 2
    assert granted[0].endswith(f':log-group:/aws/events/vigil-{ENV}-ecs*"]]}}')
    assert granted[1].endswith(f':log-group:/vigil/{ENV}/checkers/*"]]}}')


def test_checkers_read_catalog_secrets_by_prefix_only(sample: Synth) -> None:
    statements = secret_statements(sample)
    # The heartbeat endpoint alone reads job tokens, under vigil/heartbeat/ (tests/stack/test_heartbeat.py).
    tokens = [s for s in statements if s["Effect"] == "Allow" and resource_tail(s) == ":secret:vigil/heartbeat/*"]
    assert len(tokens) == 1
    referenced = {CATALOG.settings.secrets[n] for c in CATALOG.checks for n in secret_refs(c).values()}
    assert referenced and all(by_prefix(ref) for ref in referenced), "the sample names its secrets under vigil/"
    # Every other reader (checkers with secrets, the notifier with outputs) by the prefix alone.
    # The stack's own acknowledgement-link key is read by reference (tests/stack/test_paging_stack.py).
    generated = [{"Ref": lid} for lid in sample.of_type("AWS::SecretsManager::Secret")]
    readers = 0
    for policy in sample.of_type("AWS::IAM::Policy").values():
        own = [
            s
            for s in policy["Properties"]["PolicyDocument"]["Statement"]
            if "secretsmanager:GetSecretValue" in json.dumps(s["Action"])
            and s not in tokens
            and s["Resource"] not in generated
        ]
        if own:
            assert_reads_catalog_secrets_by_prefix(own)
            readers += 1
    # one per checker function (kind and placement) running a check that names a secret; no outputs here
    assert not any(route.outputs for route in CATALOG.settings.routes.values())
    assert readers == sum(1 for peers in checker_groups(CATALOG.checks).values() if any(secret_refs(c) for c in peers))


def test_notifier_publishes_only_to_route_topics(sample: Synth) -> None:
    publish = [
        s
        for p in sample.of_type("AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Action"] == "sns:Publish"
    ]
    topics = {
        r["Ref"] for s in publish for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
    }
    route_topics = {k for k, t in sample.of_type("AWS::SNS::Topic").items() if "TopicName" in t["Properties"]}
    assert topics == route_topics


def test_an_alarm_per_check_signal_with_its_rule(sample: Synth) -> None:
    alarms = _alarms_by_name(sample)
    events_topic = next(k for k, t in sample.of_type("AWS::SNS::Topic").items() if "TopicName" not in t["Properties"])
    # Kinds whose stack tests walk every alarm of their own: log_pattern (per-pattern metric, severity
    # and routes, tests/stack/test_log_pattern.py) and the native kinds of tests/stack/test_native_kinds.py
    # (metric filter names, percentiles, the catalog's own namespaces, EC2's recover action beside vigil's).
    own_tests = {"log_pattern", "ecs", "ec2", "alb", "lambda", "dynamodb", "metric"}
    for check in (c for c in CATALOG.checks if c.kind not in own_tests):
        for signal, rule in check.rules().items():
            props = alarms[alarm_name(ENV, check.id, signal)]
            if "Metrics" in props:  # metric math or Metrics Insights: the kinds' own stack tests look inside
                assert any(m.get("ReturnData", True) and "Expression" in m for m in props["Metrics"])
            else:
                assert props["MetricName"] == check.signals[signal].metric
                assert props["Period"] == rule.period
                assert props["Statistic"] == rule.statistic.value
                if check.has_checker:
                    assert props["Namespace"] == METRIC_NAMESPACE
                    check_dimension = {"Name": CHECK_DIMENSION, "Value": check.id}
                    if "@" in signal:  # one listed queue's own series (rabbitmq): Check and Queue
                        assert props["Dimensions"] == [
                            check_dimension,
                            {"Name": "Queue", "Value": signal.split("@")[1]},
                        ]
                    else:
                        assert props["Dimensions"] == [check_dimension]
                else:
                    assert props["Namespace"].startswith("AWS/")
            assert props["Threshold"] == rule.threshold
            assert props["ComparisonOperator"] == CW[rule.comparison.value]
            assert props["EvaluationPeriods"] == rule.evaluation_periods
            assert props["DatapointsToAlarm"] == rule.datapoints_to_alarm
            assert props["TreatMissingData"] == rule.missing_data.value
            # Inhibited signals too: the notifier holds their ALARM back (tests/stack/test_inhibition.py).
            assert props["AlarmActions"] == [{"Ref": events_topic}] == props["OKActions"]
            _, meta = decode_description(props["AlarmDescription"])
            assert meta is not None and meta.check == check.id and meta.signal == signal
            assert meta.routes == CATALOG.routes_for(check)


def test_sqs_alarms_watch_the_queue_and_its_dlq(sample: Synth) -> None:
    alarms = _alarms_by_name(sample)
    assert alarms[alarm_name(ENV, "orders-queue", "backlog")]["Dimensions"][0]["Value"] == "campaign-orders"
    assert alarms[alarm_name(ENV, "orders-queue", "dlq")]["Dimensions"][0]["Value"] == "campaign-orders-dlq"


def test_self_monitoring_pages_the_route_directly(sample: Synth) -> None:
    alarms = _alarms_by_name(sample)
    route = CATALOG.settings.self_monitoring_route
    route_topic = next(
        k
        for k, t in sample.of_type("AWS::SNS::Topic").items()
        if t["Properties"].get("TopicName") == f"vigil-{ENV}-{route}"
    )
    expected = [
        *("notifier-errors", "notifier-throttles", "checker-http-errors", "checker-http-throttles"),
        *("notifier-failures-failed", "delivery-failures-failed", "checker-failures-failed", "scheduler-dlq-failed"),
    ]
    for signal in expected:
        props = alarms[alarm_name(ENV, "self", signal)]
        assert props["AlarmActions"] == [{"Ref": route_topic}] == props["OKActions"]
        _, meta = decode_description(props["AlarmDescription"])
        assert meta is not None and meta.routes == [route]


def test_every_alarm_carries_the_notifier_trailer(sample: Synth) -> None:
    for props in _alarms_by_name(sample).values():
        assert decode_description(props["AlarmDescription"])[1] is not None


def test_each_service_file_has_a_dashboard_and_vigils_own_links_them(sample: Synth) -> None:
    dashboards = {
        d["Properties"]["DashboardName"]: json.dumps(d["Properties"]["DashboardBody"])
        for d in sample.of_type("AWS::CloudWatch::Dashboard").values()
    }
    files = split.by_service_file(CATALOG)
    assert dashboards.keys() == {f"vigil-{ENV}"} | {f"vigil-{ENV}-{file_id}" for file_id in files}
    for file_id, checks in files.items():
        body = dashboards[f"vigil-{ENV}-{file_id}"]
        for check in checks:
            assert f"## {check.service}" in body and check.id in body
        assert f"#dashboards:name=vigil-{ENV}-{file_id}" in dashboards[f"vigil-{ENV}"]
