"""Kind `ec2` catalog entries: status checks with missing data `missing`, CPU in 5-minute periods, recover."""

from __future__ import annotations

import pytest

from tests.support.catalogs import catalog_problems, has_problem
from vigil.spec.common import MissingData
from vigil.spec.ec2 import Ec2Check

BASE = {"id": "mq-host", "kind": "ec2", "severity": "critical", "instance": "i-0123456789abcdef0"}


def check(**fields: object) -> Ec2Check:
    return Ec2Check.model_validate({**BASE, "service": "campaign-events", **fields})


def test_default_rules_and_missing_data():
    spec = check()
    assert not spec.recover
    assert {s: spec.rule(s).describe(spec.signals[s].unit) for s in spec.active_signals()} == {
        # Two 1-minute periods: what CloudWatch recommends for an alarm with the recover action.
        "system_status": ">= 1 for 2 of 2 minutes",
        "instance_status": ">= 1 for 3 of 3 minutes",
        "ebs_status": ">= 1 for 3 of 3 minutes",
        # Basic monitoring publishes CPUUtilization every 5 minutes.
        "cpu": "> 90 % for 3 of 3 periods of 5m",
    }
    assert {s: spec.rule(s).missing_data for s in spec.active_signals()} == {
        "system_status": MissingData.missing,
        "instance_status": MissingData.missing,
        "ebs_status": MissingData.missing,
        "cpu": MissingData.not_breaching,
    }
    assert [name for name, s in spec.signals.items() if s.bands] == ["cpu"]


@pytest.mark.parametrize("instance", ["i-0123abcd", "i-0123456789abcdef0"])
def test_instance_ids(instance):
    assert check(instance=instance).instance == instance


@pytest.mark.parametrize(
    ("entry", "fragments"),
    [
        ({"instance": "i-123"}, ["check mq-host: instance:"]),
        ({"instance": "0123456789abcdef0"}, ["check mq-host: instance:"]),
        ({"recover": "sometimes"}, ["check mq-host: recover:"]),
        ({"alarms": {"system_status": {"band": {}}}}, ["alarms.system_status.band", "take one: cpu"]),
    ],
)
def test_bad_entries_say_what_is_allowed(tmp_path, entry, fragments):
    found = catalog_problems(tmp_path, [{**BASE, **entry}])
    assert has_problem(found, *fragments), found
