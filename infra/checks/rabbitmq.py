"""Kind `rabbitmq`: a schedule invoking the rabbitmq checker, and an alarm per active signal.

Broker signals and each queue signal's worst queue (pattern-selected queues, and listed queues
without an override of their own) alarm on Vigil/<metric> with Check=<id>; a listed queue's
override gives it its own alarm (`<signal>@<queue>`) on Check=<id>, Queue=<name>
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
