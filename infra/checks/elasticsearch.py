"""Kind `elasticsearch`: a schedule invoking the shared elasticsearch checker, and an alarm per
active signal (`count`, `aggregate` when the check has an aggregation, `measure`) on Vigil/<metric>.

The checker function per (kind, VPC placement), its read permission on the auth secret and its
placement in the catalog's subnets all come from CheckContext, as for http and rabbitmq.
"""

from __future__ import annotations

from constructs import Construct

from infra.checks import CheckContext, checker_alarms, schedule
from vigil.spec.common import CheckBase


def build(scope: Construct, check: CheckBase, ctx: CheckContext) -> None:
    schedule(scope, check, ctx)
    checker_alarms(scope, check, ctx)
