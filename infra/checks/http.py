"""Kind `http`: a schedule invoking the shared http checker, and an alarm per signal on Vigil/<metric>."""

from __future__ import annotations

from constructs import Construct

from infra.checks import CheckContext, checker_alarms, schedule
from vigil.spec.common import CheckBase


def build(scope: Construct, check: CheckBase, ctx: CheckContext) -> None:
    schedule(scope, check, ctx)
    checker_alarms(scope, check, ctx)
