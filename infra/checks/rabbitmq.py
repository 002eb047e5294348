"""Kind `rabbitmq`: a schedule invoking the rabbitmq checker, and an alarm per active signal.

Broker signals and the rollup of pattern-selected queues alarm on Vigil/<metric> with Check=<id>;
each queue listed in the catalog has its own alarms (`<signal>@<queue>`) on Check=<id>, Queue=<name>
(RabbitmqCheck.alarm_dimensions). The checker function runs in the catalog's VPC placement and may
read the credentials secret (both through CheckContext, like http's headers_secret).
"""

from __future__ import annotations

from constructs import Construct

from infra.checks import CheckContext, checker_alarms, schedule
from vigil.spec.common import CheckBase


def build(scope: Construct, check: CheckBase, ctx: CheckContext) -> None:
    schedule(scope, check, ctx)
    checker_alarms(scope, check, ctx)
