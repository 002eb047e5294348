"""Kind `sql`: a schedule invoking the sql checker, and an alarm per signal on Vigil/<metric>.

The checker function runs in the check's VPC placement (the database's VPC, for RDS) and may read
the check's credentials secret: both come with CheckContext.checker, as for http's headers_secret.
In a VPC it reaches Secrets Manager through a VPC endpoint or a NAT gateway (docs/catalog.md).
"""

from __future__ import annotations

from constructs import Construct

from infra.checks import CheckContext, checker_alarms, schedule
from vigil.spec.common import CheckBase
from vigil.spec.sql import SqlCheck


def build(scope: Construct, check: CheckBase, ctx: CheckContext) -> None:
    assert isinstance(check, SqlCheck)
    schedule(scope, check, ctx)
    checker_alarms(scope, check, ctx)
