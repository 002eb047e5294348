"""Kind `ec2`: native CloudWatch alarms on one EC2 instance's status checks and CPU; no Lambda runs.

AWS/EC2, dimension InstanceId (Amazon EC2 User Guide, "Instance metrics" and "Status check
metrics", https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/viewing_metrics_with_cloudwatch.html):
StatusCheckFailed_System, StatusCheckFailed_Instance and StatusCheckFailed_AttachedEBS are 0 or 1,
published every minute for a running instance, free; CPUUtilization (Percent) every 5 minutes with
basic monitoring, every minute with detailed monitoring, so `cpu` uses 5-minute periods.

`recover: true` adds EC2's recover action (arn:aws:automate:<region>:ec2:recover) to the system
status check alarm beside vigil's notification. CloudWatch allows it there only ("The recover
action can be used only with StatusCheckFailed_System", CloudWatch User Guide, "Adding recover
actions") and recommends two 1-minute periods for it, which is the default rule.

Missing data: a stopped or terminated instance publishes nothing and that is no fault; for the
status checks `missing`, as AWS recommends for alarms with EC2 actions (CloudWatch User Guide,
"Configuring how CloudWatch alarms treat missing data": EC2 alarms can briefly lack data points
while the instance is healthy), so a gap never recovers or reboots anything; for `cpu`, not breaching.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from vigil.spec.common import AlarmRule, CheckBase, Comparison, MissingData, Signal, Statistic, worded

INSTANCE_ID = worded(
    r"^i-([0-9a-f]{8}|[0-9a-f]{17})$",
    "an instance id: i- and 8 or 17 lowercase hex digits, such as i-0123456789abcdef0",
)
SYSTEM = "system_status"


def _status(periods: int) -> AlarmRule:
    return AlarmRule.sustained(1, Comparison.ge, periods, MissingData.missing)


class Ec2Check(CheckBase):
    """Status checks (system, instance, attached EBS) and CPU of one EC2 instance; recover where asked."""

    signals: ClassVar = {
        s.name: s
        for s in (
            Signal(
                SYSTEM,
                "StatusCheckFailed_System",
                "",
                "the AWS system status check failed: host hardware, power or network; AWS must repair or move it",
                _status(2),
            ),
            Signal(
                "instance_status",
                "StatusCheckFailed_Instance",
                "",
                "the instance status check failed: the OS does not answer (kernel, memory, network config, disk full)",
                _status(3),
            ),
            Signal(
                "ebs_status",
                "StatusCheckFailed_AttachedEBS",
                "",
                "an attached EBS volume is unreachable or cannot complete I/O (Nitro instances)",
                _status(3),
            ),
            Signal(
                "cpu",
                "CPUUtilization",
                "%",
                "CPU utilization of the instance",
                AlarmRule.sustained(
                    90, Comparison.gt, 3, MissingData.not_breaching, statistic=Statistic.average, period=300
                ),
                bands=True,
            ),
        )
    }
    has_checker: ClassVar[bool] = False

    kind: Literal["ec2"]
    instance: str = Field(pattern=INSTANCE_ID, description="the instance id, i-0123456789abcdef0")
    recover: bool = Field(
        default=False,
        description="recover the instance onto healthy hardware when the system status check alarms",
    )
