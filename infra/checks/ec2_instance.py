"""Kind `ec2`: status check and CPU alarms on one instance; the recover action where the catalog asks.

(Not infra/checks/ec2.py: a submodule named ec2 would replace the package's own `ec2`, aws_ec2.)

The recover action is one more AlarmActions strategy handed to the AlarmFactory for the system
status check alone (infra.alarms.Ec2RecoverAction): the same alarm, notified through vigil as any.
"""

from __future__ import annotations

from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from infra.alarms import AlarmActions, Ec2RecoverAction
from infra.checks import CheckContext, alarm_signals
from vigil.spec.common import CheckBase
from vigil.spec.ec2 import SYSTEM, Ec2Check

NAMESPACE = "AWS/EC2"


def build(scope: Construct, check: CheckBase, ctx: CheckContext) -> None:
    assert isinstance(check, Ec2Check)

    def metric(signal: str) -> cloudwatch.IMetric:
        return cloudwatch.Metric(
            namespace=NAMESPACE,
            metric_name=Ec2Check.signals[signal].metric,
            dimensions_map={"InstanceId": check.instance},
        )

    def extra(signal: str) -> AlarmActions | None:
        return Ec2RecoverAction() if check.recover and signal == SYSTEM else None

    alarm_signals(scope, check, ctx, metric, extra)
