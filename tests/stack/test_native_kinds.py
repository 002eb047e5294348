"""Kinds ecs, ec2, alb, lambda, dynamodb and metric as synthesized from tests/fixtures/kinds (tag selectors
resolved against a recorded listing of 3 tagged services): every alarm's metric or expression,
dimensions, statistic, rule and missing data; anomaly bands; the EC2 recover action; the ECS event
rules, log groups, resource policy and metric filters, checked against AWS's documented ECS events
(tests/fixtures/ecs_events); cfn-lint and cdk-nag."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import ENV, Synth, synth
from moto.events.models import EventPattern
from test_lint_nag import lint_all

from infra import ecs_events
from infra.catalog import load_catalog
from infra.discovery import RecordedListing
from infra.ecs_events import DEPLOYMENT_FAILED_PATTERN
from vigil import json_filter_pattern
from vigil.alarm_meta import EcsEventsRef, alarm_name, decode_description
from vigil.notifier.events import parse_alarm, split_event
from vigil.notifier.render import LinkContext, render_email, render_sms, render_subject

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CATALOG = FIXTURES / "kinds"
LISTING = FIXTURES / "discovery" / "listing-3-services.json"
FOUND_SERVICES = ["prod-campaign-api", "prod-campaign-scheduler", "prod-campaign-worker"]


@pytest.fixture(scope="module")
def built(asset_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synth(CATALOG, tmp_path_factory.mktemp("cdk.out"), asset_dir, discovery=RecordedListing(LISTING))


def alarms(built: Synth) -> dict[str, dict]:
    return {a["Properties"]["AlarmName"]: a["Properties"] for a in built.of_type("AWS::CloudWatch::Alarm").values()}


def alarm(built: Synth, check: str, signal: str) -> dict:
    props = alarms(built)[alarm_name(ENV, check, signal)]
    _, meta = decode_description(props["AlarmDescription"])
    assert meta is not None and (meta.check, meta.signal) == (check, signal)
    assert props["AlarmActions"][0] == props["OKActions"][0]  # through the notifier, both ways
    return props


def by_id(props: dict) -> dict[str, dict]:
    return {m["Id"]: m for m in props["Metrics"]}


def stat(entry: dict) -> tuple[str, str, dict[str, str], str, int]:
    """(namespace, metric, dimensions, statistic, period) of one MetricStat entry."""
    metric = entry["MetricStat"]["Metric"]
    dims = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
    return metric["Namespace"], metric["MetricName"], dims, entry["MetricStat"]["Stat"], entry["MetricStat"]["Period"]


def returned_expression(props: dict) -> str:
    (returned,) = [m for m in props["Metrics"] if m.get("ReturnData") and "Expression" in m]
    return str(returned["Expression"])


def test_every_active_signal_of_every_check_and_target_has_one_alarm(built: Synth) -> None:
    catalog = load_catalog(CATALOG)
    expected = set()
    for check in catalog.checks:
        ids = [f"{check.id}-{s}" for s in FOUND_SERVICES] if check.id == "campaign-services" else [check.id]
        if check.id == "campaign-lbs":
            ids = ["campaign-lbs-campaign-public"]
        expected |= {alarm_name(ENV, i, s) for i in ids for s in check.active_signals()}
    names = {n for n in alarms(built) if not n.startswith(f"vigil-{ENV}-self-")}
    assert names == expected
    assert len(expected) == 49  # 11 checks; the selector ones count once per target


def test_ecs_tasks_short_is_desired_minus_running_from_container_insights(built: Synth) -> None:
    props = alarm(built, "campaign-api-service", "tasks_short")
    assert returned_expression(props) == "desired - running"
    dims = {"ClusterName": "prod", "ServiceName": "campaign-api"}
    metrics = by_id(props)
    assert stat(metrics["desired"]) == ("ECS/ContainerInsights", "DesiredTaskCount", dims, "Maximum", 60)
    assert stat(metrics["running"]) == ("ECS/ContainerInsights", "RunningTaskCount", dims, "Minimum", 60)
    assert (props["Threshold"], props["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert (props["EvaluationPeriods"], props["DatapointsToAlarm"], props["TreatMissingData"]) == (5, 5, "breaching")


def test_ecs_without_container_insights_counts_running_tasks_by_cpu_samples(built: Synth) -> None:
    props = alarm(built, "campaign-worker-tasks", "running")
    assert (props["Namespace"], props["MetricName"], props["Statistic"], props["Period"]) == (
        "AWS/ECS",
        "CPUUtilization",
        "SampleCount",
        60,
    )
    assert props["Dimensions"] == [
        {"Name": "ClusterName", "Value": "batch"},
        {"Name": "ServiceName", "Value": "campaign-worker"},
    ]
    assert (props["Threshold"], props["ComparisonOperator"], props["TreatMissingData"]) == (
        2,
        "LessThanThreshold",
        "breaching",
    )
    assert alarm_name(ENV, "campaign-worker-tasks", "tasks_short") not in alarms(built)


def test_ecs_cpu_is_a_threshold_and_memory_alarms_above_its_anomaly_band(built: Synth) -> None:
    cpu = alarm(built, "campaign-api-service", "cpu")
    assert (cpu["Namespace"], cpu["MetricName"], cpu["Statistic"], cpu["Threshold"]) == (
        "AWS/ECS",
        "CPUUtilization",
        "Average",
        90,
    )
    memory = alarm(built, "campaign-api-service", "memory")
    assert "Threshold" not in memory
    band = by_id(memory)[memory["ThresholdMetricId"]]
    assert band["Expression"] == "ANOMALY_DETECTION_BAND(memory, 3)" and band["ReturnData"] is True
    assert stat(by_id(memory)["memory"])[:4] == (
        "AWS/ECS",
        "MemoryUtilization",
        {"ClusterName": "prod", "ServiceName": "campaign-api"},
        "Average",
    )
    assert memory["ComparisonOperator"] == "GreaterThanUpperThreshold"
    _, meta = decode_description(memory["AlarmDescription"])
    assert meta is not None and meta.rule == "above the anomaly band (3 standard deviations) for 5 of 5 minutes"


ECS_TARGETS = [
    ("campaign-api-service", "prod", "campaign-api"),
    ("campaign-worker-tasks", "batch", "campaign-worker"),
    *((f"campaign-services-{s}", "prod", s.removeprefix("prod-")) for s in FOUND_SERVICES),
]
# The documented events' account and region, to resolve the template's pseudo parameters with.
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "us-west-2", "AWS::AccountId": "111122223333"}


def resolved(value: object) -> str:
    """A string property as CloudFormation resolves it in us-west-2, account 111122223333."""
    if isinstance(value, str):
        return value
    assert isinstance(value, dict) and "Fn::Join" in value, value
    separator, parts = value["Fn::Join"]
    return separator.join(p if isinstance(p, str) else PSEUDO[p["Ref"]] for p in parts)


def documented(name: str, **detail: str) -> str:
    """A documented ECS event (tests/fixtures/ecs_events), as EventBridge writes it to a log group."""
    event = json.loads((FIXTURES / "ecs_events" / f"{name}.json").read_text())
    event["detail"].update(detail)
    return json.dumps(event)


def ecs_rules(built: Synth) -> dict[str, dict]:
    return {k: v for k, v in built.of_type("AWS::Events::Rule").items() if k.startswith("CheckersEcsEvents")}


def ecs_log_group_ids(built: Synth) -> dict[str, str]:
    """Log group name -> logical id of the ECS events log groups."""
    groups = built.of_type("AWS::Logs::LogGroup").items()
    return {v["Properties"]["LogGroupName"]: k for k, v in groups if k.startswith("CheckersEcsEvents")}


def test_ecs_events_go_by_two_rules_to_two_log_groups_that_only_eventbridge_may_write(built: Synth) -> None:
    groups = ecs_log_group_ids(built)
    assert set(groups) == {f"/aws/events/vigil-{ENV}-ecs", f"/aws/events/vigil-{ENV}-ecs-tasks"}
    rules = ecs_rules(built)
    assert len(rules) == 2  # one pair for the stack, however many services
    (policy_id, policy), *others = built.of_type("AWS::Logs::ResourcePolicy").items()
    assert not others
    targets: dict[str, str] = {}
    for rule in rules.values():
        (target,) = rule["Properties"]["Targets"]
        (group,) = [g for g, ref in groups.items() if {"Ref": ref} in target["Arn"]["Fn::Join"][1]]
        # arn:<partition>:logs:<region>:<account>:log-group:<the log group's name>
        arn = resolved(
            {"Fn::Join": ["", [p if p != {"Ref": groups[group]} else group for p in target["Arn"]["Fn::Join"][1]]]}
        )
        assert arn == f"arn:aws:logs:us-west-2:111122223333:log-group:{group}"
        targets[rule["Properties"]["EventPattern"]["detail-type"][0]] = group
        dlq = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
        assert dlq.startswith("CheckersSchedulerDlq")  # alarmed by self-monitoring on any message
        assert policy_id in rule.get("DependsOn", [])  # no event dropped before the policy exists
    assert targets == {
        "ECS Deployment State Change": f"/aws/events/vigil-{ENV}-ecs",
        "ECS Task State Change": f"/aws/events/vigil-{ENV}-ecs-tasks",
    }
    document = json.loads(
        "".join(p if isinstance(p, str) else "ARN" for p in policy["Properties"]["PolicyDocument"]["Fn::Join"][1])
    )
    (statement,) = document["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert sorted(statement["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    arns = [p for p in policy["Properties"]["PolicyDocument"]["Fn::Join"][1] if not isinstance(p, str)]
    assert sorted(a["Fn::GetAtt"][0] for a in arns) == sorted(groups.values())
    # Each rule may send what it could not deliver to the dead-letter queue, no other rule through it.
    queue_policies = [
        q["Properties"]["PolicyDocument"]["Statement"] for q in built.of_type("AWS::SQS::QueuePolicy").values()
    ]
    senders = [
        s["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::GetAtt"][0]
        for statements in queue_policies
        for s in statements
        if s.get("Principal") == {"Service": "events.amazonaws.com"}
    ]
    assert set(rules) <= set(senders)


def test_the_stopped_task_rule_takes_the_documented_stops_of_the_watched_services_only(built: Synth) -> None:
    (stopped,) = [
        r["Properties"]["EventPattern"]
        for r in ecs_rules(built).values()
        if r["Properties"]["EventPattern"]["detail-type"] == ["ECS Task State Change"]
    ]
    assert stopped == ecs_events.task_stopped_pattern([(c, s) for _, c, s in ECS_TARGETS])
    assert stopped["detail"]["group"] == [
        "service:campaign-api",
        "service:campaign-scheduler",
        "service:campaign-worker",
    ]
    # moto's implementation of EventBridge's pattern matching, on the documented event of each service.
    rule = EventPattern.load(json.dumps(stopped))
    for _, cluster, service in ECS_TARGETS:
        arn = f"arn:aws:ecs:us-west-2:111122223333:cluster/{cluster}"
        assert rule.matches_event(
            json.loads(documented("task_stopped_oom", clusterArn=arn, group=f"service:{service}"))
        )
        assert not rule.matches_event(
            json.loads(documented("task_running", clusterArn=arn, group=f"service:{service}"))
        )
    prod = "arn:aws:ecs:us-west-2:111122223333:cluster/prod"
    assert not rule.matches_event(
        json.loads(documented("task_stopped_oom", clusterArn=prod, group="service:billing-api"))
    )
    assert not rule.matches_event(json.loads(documented("task_stopped_oom")))  # FargateCluster


def test_every_ecs_alarm_tells_the_notifier_where_its_services_events_are(built: Synth) -> None:
    for check, cluster, service in ECS_TARGETS:
        signals = ["running" if check == "campaign-worker-tasks" else "tasks_short", "cpu", "memory"]
        for signal in [*signals, "deployment_failed", "tasks_crashed"]:
            _, meta = decode_description(alarm(built, check, signal)["AlarmDescription"])
            assert meta is not None and meta.ecs == EcsEventsRef(
                cluster=cluster,
                service=service,
                tasks=f"/aws/events/vigil-{ENV}-ecs-tasks",
                deployments=f"/aws/events/vigil-{ENV}-ecs",
            ), (check, signal)
    _, other = decode_description(alarm(built, "campaign-mq-host", "system_status")["AlarmDescription"])
    assert other is not None and other.ecs is None


def test_ecs_deployment_failures_and_crashes_are_counted_per_service_and_alarmed(built: Synth) -> None:
    patterns = [r["Properties"]["EventPattern"] for r in ecs_rules(built).values()]
    assert DEPLOYMENT_FAILED_PATTERN in patterns
    groups = ecs_log_group_ids(built)
    filters = {
        f["Properties"]["FilterName"]: f["Properties"] for f in built.of_type("AWS::Logs::MetricFilter").values()
    }
    for check, cluster, service in ECS_TARGETS:
        for signal, group, statistic in [
            ("deployment_failed", f"/aws/events/vigil-{ENV}-ecs", "Sum"),
            ("tasks_crashed", f"/aws/events/vigil-{ENV}-ecs-tasks", "Sum"),
        ]:
            props = filters[alarm_name(ENV, check, signal)]
            assert props["LogGroupName"] == {"Ref": groups[group]}, (check, signal)
            (transform,) = props["MetricTransformations"]
            assert (transform["MetricNamespace"], transform["MetricName"], transform["MetricValue"]) == (
                "Vigil/Events",
                f"{check}.{signal}",
                "1",
            )
            alarmed = alarm(built, check, signal)
            assert (alarmed["Namespace"], alarmed["MetricName"], alarmed["Statistic"]) == (
                "Vigil/Events",
                f"{check}.{signal}",
                statistic,
            )
            assert (alarmed["ComparisonOperator"], alarmed["TreatMissingData"]) == (
                "GreaterThanOrEqualToThreshold",
                "notBreaching",
            )
        crashed = alarm(built, check, "tasks_crashed")
        assert (crashed["Threshold"], crashed["Period"], crashed["EvaluationPeriods"]) == (2, 300, 1)
        # The deployed patterns, resolved as CloudFormation would in the documented events' account and
        # region, count the documented events of their own service only (CloudWatch's JSON filter rules).
        deployment = json_filter_pattern.parse(
            resolved(filters[alarm_name(ENV, check, "deployment_failed")]["FilterPattern"])
        )
        mine = f"arn:aws:ecs:us-west-2:111122223333:service/{cluster}/{service}"
        failed = json.loads(documented("deployment_failed"))
        assert deployment.matches(json.dumps({**failed, "resources": [mine]}))
        assert not deployment.matches(documented("deployment_failed"))  # default/servicetest
        assert not deployment.matches(
            json.dumps({**json.loads(documented("deployment_completed")), "resources": [mine]})
        )
        crashes = json_filter_pattern.parse(resolved(filters[alarm_name(ENV, check, "tasks_crashed")]["FilterPattern"]))
        cluster_arn = f"arn:aws:ecs:us-west-2:111122223333:cluster/{cluster}"
        assert crashes.matches(documented("task_stopped_oom", clusterArn=cluster_arn, group=f"service:{service}"))
        assert not crashes.matches(documented("task_stopped_oom"))  # FargateCluster/sample-fargate
        assert not crashes.matches(
            documented("task_stopped_by_deployment", clusterArn=cluster_arn, group=f"service:{service}")
        )
        assert not crashes.matches(documented("task_running", clusterArn=cluster_arn, group=f"service:{service}"))


def test_ec2_status_checks_and_the_recover_action_only_where_asked(built: Synth) -> None:
    for check in ("campaign-mq-host", "campaign-bastion"):
        for signal, metric in [
            ("system_status", "StatusCheckFailed_System"),
            ("instance_status", "StatusCheckFailed_Instance"),
            ("ebs_status", "StatusCheckFailed_AttachedEBS"),
        ]:
            props = alarm(built, check, signal)
            assert (props["Namespace"], props["MetricName"], props["Statistic"]) == ("AWS/EC2", metric, "Maximum")
            assert (props["Threshold"], props["ComparisonOperator"], props["TreatMissingData"]) == (
                1,
                "GreaterThanOrEqualToThreshold",
                "missing",
            )
    recover = alarm(built, "campaign-mq-host", "system_status")
    assert recover["Dimensions"] == [{"Name": "InstanceId", "Value": "i-0123456789abcdef0"}]
    assert (recover["EvaluationPeriods"], recover["Period"]) == (2, 60)
    (ec2_action,) = [a for a in recover["AlarmActions"] if "Fn::Join" in a]
    assert "".join(p if isinstance(p, str) else "" for p in ec2_action["Fn::Join"][1]) == "arn::automate::ec2:recover"
    assert len(recover["AlarmActions"]) == 2 and len(recover["OKActions"]) == 1  # vigil's and recover; OK only vigil's
    for check, signal in [("campaign-mq-host", "instance_status"), ("campaign-bastion", "system_status")]:
        assert len(alarm(built, check, signal)["AlarmActions"]) == 1, (check, signal)
    cpu = alarm(built, "campaign-bastion", "cpu")
    assert cpu["ComparisonOperator"] == "GreaterThanUpperThreshold"
    assert stat(by_id(cpu)["cpu"]) == ("AWS/EC2", "CPUUtilization", {"InstanceId": "i-0fedcba9"}, "Average", 300)


def test_alb_one_target_group_alarms_with_both_dimensions(built: Synth) -> None:
    dims = [
        {"Name": "LoadBalancer", "Value": "app/shared-public/0123456789abcdef"},
        {"Name": "TargetGroup", "Value": "targetgroup/campaign-api/73e2d6bc24d8a067"},
    ]
    unhealthy = alarm(built, "campaign-api-lb", "unhealthy_hosts")
    assert (unhealthy["Namespace"], unhealthy["MetricName"], unhealthy["Statistic"]) == (
        "AWS/ApplicationELB",
        "UnHealthyHostCount",
        "Maximum",
    )
    assert unhealthy["Dimensions"] == dims and unhealthy["TreatMissingData"] == "notBreaching"
    latency = alarm(built, "campaign-api-lb", "latency")
    assert (latency["MetricName"], latency["ExtendedStatistic"], latency["Threshold"]) == (
        "TargetResponseTime",
        "p99",
        0.5,
    )
    rate = alarm(built, "campaign-api-lb", "target_5xx_rate")
    assert returned_expression(rate) == "IF(requests >= 10, 100 * FILL(errors5xx, 0) / requests, 0)"
    metrics = by_id(rate)
    assert stat(metrics["errors5xx"])[1:4] == (
        "HTTPCode_Target_5XX_Count",
        {d["Name"]: d["Value"] for d in dims},
        "Sum",
    )
    assert stat(metrics["requests"])[1] == "RequestCount"


def test_alb_found_by_selector_reads_its_worst_target_group_and_a_latency_band(built: Synth) -> None:
    target = "campaign-lbs-campaign-public"
    unhealthy = alarm(built, target, "unhealthy_hosts")
    (query,) = unhealthy["Metrics"]
    assert query["Expression"] == (
        'SELECT MAX(UnHealthyHostCount) FROM SCHEMA("AWS/ApplicationELB", LoadBalancer, TargetGroup) '
        "WHERE LoadBalancer = 'app/campaign-public/50dc6c4952c5a0c1'"
    )
    latency = alarm(built, target, "latency")
    assert latency["ComparisonOperator"] == "LessThanLowerOrGreaterThanUpperThreshold"
    assert by_id(latency)[latency["ThresholdMetricId"]]["Expression"] == "ANOMALY_DETECTION_BAND(latency, 2)"
    assert stat(by_id(latency)["latency"])[1:4] == (
        "TargetResponseTime",
        {"LoadBalancer": "app/campaign-public/50dc6c4952c5a0c1"},
        "p99",
    )


def test_lambda_rate_duration_against_the_timeout_and_iterator_age(built: Synth) -> None:
    dims = {"FunctionName": "campaign-sender"}
    errors = alarm(built, "campaign-sender", "errors")
    assert returned_expression(errors) == "IF(invocations > 0, 100 * FILL(errors, 0) / invocations, 0)"
    assert stat(by_id(errors)["errors"]) == ("AWS/Lambda", "Errors", dims, "Sum", 60)
    assert stat(by_id(errors)["invocations"]) == ("AWS/Lambda", "Invocations", dims, "Sum", 60)
    duration = alarm(built, "campaign-sender", "duration")
    assert returned_expression(duration) == "100 * duration / 30000"
    assert stat(by_id(duration)["duration"])[1:4] == ("Duration", dims, "p99")
    assert duration["Threshold"] == 80
    age = alarm(built, "campaign-sender", "iterator_age")
    assert returned_expression(age) == "iterator_age / 1000"
    assert stat(by_id(age)["iterator_age"])[1:4] == ("IteratorAge", dims, "Maximum")
    throttles = alarm(built, "campaign-sender", "throttles")
    assert (throttles["MetricName"], throttles["Statistic"], throttles["DatapointsToAlarm"]) == ("Throttles", "Sum", 3)
    assert {alarm(built, "campaign-sender", s)["TreatMissingData"] for s in ("errors", "duration")} == {"notBreaching"}


def test_dynamodb_counts_are_filled_and_missing_data_ignored(built: Synth) -> None:
    table = {"TableName": "campaign-results"}
    reads = alarm(built, "campaign-results-table", "read_throttles")
    assert returned_expression(reads) == "FILL(read_throttles, 0)"
    assert stat(by_id(reads)["read_throttles"]) == ("AWS/DynamoDB", "ReadThrottleEvents", table, "Sum", 60)
    errors = alarm(built, "campaign-results-table", "system_errors")
    operations = sorted(stat(m)[2]["Operation"] for m in errors["Metrics"] if "MetricStat" in m)
    assert len(operations) == 10 and "TransactWriteItems" in operations and "Query" in operations
    assert returned_expression(errors).count("FILL(") == 10
    replication = alarm(built, "campaign-results-table", "replication_latency")
    assert returned_expression(replication) == "MAX([replication_latency0, replication_latency1])"
    regions = sorted(stat(m)[2]["ReceivingRegion"] for m in replication["Metrics"] if "MetricStat" in m)
    assert regions == ["eu-west-1", "us-east-1"]
    for signal in ("read_throttles", "write_throttles", "system_errors", "replication_latency"):
        assert alarm(built, "campaign-results-table", signal)["TreatMissingData"] == "ignore", signal


def test_metric_kind_reads_the_catalogs_metric_or_expression(built: Synth) -> None:
    orders = alarm(built, "campaign-orders", "value")
    assert (orders["Namespace"], orders["MetricName"], orders["Statistic"]) == ("Campaigns", "OrdersPlaced", "Sum")
    assert orders["Dimensions"] == [{"Name": "Env", "Value": "prod"}]
    assert (orders["ComparisonOperator"], orders["TreatMissingData"]) == ("LessThanThreshold", "breaching")
    bounces = alarm(built, "campaign-bounce-rate", "value")
    assert returned_expression(bounces) == "100 * FILL(bounced, 0) / sent"
    assert stat(by_id(bounces)["bounced"]) == ("Campaigns", "Bounced", {}, "Sum", 60)
    _, meta = decode_description(bounces["AlarmDescription"])
    assert meta is not None and meta.unit == "%" and meta.rule == "> 5 % for 3 of 5 minutes"


def test_a_band_alarm_reaches_on_call_with_its_rule_in_words(built: Synth) -> None:
    props = alarm(built, "campaign-api-service", "memory")
    record = json.loads((FIXTURES / "alarms" / "sns_alarm.json").read_text())
    message = json.loads(record["Records"][0]["Sns"]["Message"])
    message.update(
        AlarmName=props["AlarmName"],
        AlarmDescription=props["AlarmDescription"],
        NewStateReason="Thresholds Crossed: 5 out of the last 5 datapoints were greater than the upper thresholds",
    )
    # An anomaly alarm's trigger has no threshold: ThresholdMetricId and the band operator instead.
    message["Trigger"].pop("Threshold", None)
    message["Trigger"].update(ComparisonOperator=props["ComparisonOperator"], ThresholdMetricId="expr_1")
    record["Records"][0]["Sns"]["Message"] = json.dumps(message)
    (payload,) = split_event(record)
    event = parse_alarm(payload)
    assert render_subject(event).startswith("[ALARM][critical] campaign-api-service memory")
    assert "above the anomaly band (3 standard deviations)" in render_email(event, LinkContext())
    assert len(render_sms(event)) <= 160


def test_the_template_lints_and_passes_nag(built: Synth) -> None:
    assert lint_all(built) == {}
    report = json.loads((built.outdir / "validation-report.json").read_text())
    assert report["pluginReports"] == []


def test_synth_without_a_listing_or_credentials_stops_with_the_way_out(
    asset_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, synthesize: Callable[[Path], Synth]
) -> None:
    from infra.discovery import DiscoveryError

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(DiscoveryError, match="check campaign-services: selector vigil:service=campaign-api: no AWS"):
        synthesize(CATALOG)
