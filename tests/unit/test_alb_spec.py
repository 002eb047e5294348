"""Kind `alb` catalog entries: dimensions from names or ARNs, one target group or all, selectors."""

from __future__ import annotations

import pytest

from infra.plan import alarm_metrics
from tests.support.catalogs import catalog_problems, has_problem
from vigil.spec.alb import AlbCheck
from vigil.spec.common import MissingData

LB_ARN = "arn:aws:elasticloadbalancing:eu-west-2:123456789012:loadbalancer/app/campaigns-public/50dc6c4952c5a0c1"
TG_ARN = "arn:aws:elasticloadbalancing:eu-west-2:123456789012:targetgroup/campaign-api/73e2d6bc24d8a067"
BASE = {"id": "api-lb", "kind": "alb", "severity": "critical", "load_balancer": LB_ARN}


def check(**fields: object) -> AlbCheck:
    return AlbCheck.model_validate({**BASE, "service": "campaign-api", **fields})


def test_default_rules_missing_data_and_prices():
    spec = check()
    assert {s: spec.rule(s).describe(spec.signals[s].unit) for s in spec.active_signals()} == {
        "unhealthy_hosts": "> 0 targets for 3 of 3 minutes",
        "target_5xx_rate": "> 5 % for 3 of 3 minutes",
        "latency": "> 1 s for 5 of 5 minutes",
    }
    assert spec.rule("latency").statistic.value == "p99"
    # The load balancer publishes nothing while no request flows.
    assert {spec.rule(s).missing_data for s in spec.active_signals()} == {MissingData.not_breaching}
    assert [alarm_metrics(spec, s) for s in spec.active_signals()] == [1, 2, 1]
    assert spec.min_requests == 10


def test_dimensions_come_from_names_or_arns():
    by_arn = check(target_group=TG_ARN)
    by_name = check(
        load_balancer="app/campaigns-public/50dc6c4952c5a0c1", target_group="targetgroup/campaign-api/73e2d6bc24d8a067"
    )
    for spec in (by_arn, by_name):
        assert spec.load_balancer_dimension == "app/campaigns-public/50dc6c4952c5a0c1"
        assert spec.target_group_dimension == "targetgroup/campaign-api/73e2d6bc24d8a067"
    assert check().target_group_dimension is None


def test_a_selector_finds_application_load_balancers_only():
    spec = check(load_balancer=None, selector={"tags": {"vigil:service": "campaign-api"}})
    found = spec.for_resource(LB_ARN)
    assert found is not None
    assert (found.id, found.load_balancer, found.target_label) == (
        "api-lb-campaigns-public",
        "app/campaigns-public/50dc6c4952c5a0c1",
        "campaigns-public",
    )
    nlb = "arn:aws:elasticloadbalancing:eu-west-2:123456789012:loadbalancer/net/grpc/7a1b2c3d4e5f6a7b"
    assert spec.for_resource(nlb) is None


@pytest.mark.parametrize(
    ("entry", "fragments"),
    [
        ({"load_balancer": None}, ["give one of load_balancer", "found neither"]),
        ({"selector": {"tags": {"a": "b"}}}, ["give one of load_balancer", "found both"]),
        (
            {"load_balancer": None, "selector": {"tags": {"a": "b"}}, "target_group": TG_ARN},
            ["target_group: only with load_balancer"],
        ),
        ({"load_balancer": "my-lb"}, ["check api-lb: load_balancer:"]),
        ({"target_group": "campaign-api"}, ["check api-lb: target_group:"]),
        ({"alarms": {"target_5xx_rate": {"statistic": "Average"}}}, ["alarms.target_5xx_rate: statistic is fixed"]),
        ({"alarms": {"target_5xx_rate": {"band": {}}}}, ["alarms.target_5xx_rate.band", "take one: latency"]),
        ({"min_requests": 0}, ["check api-lb: min_requests:"]),
    ],
)
def test_bad_entries_say_what_is_allowed(tmp_path, entry, fragments):
    found = catalog_problems(tmp_path, [{**BASE, **entry}])
    assert has_problem(found, *fragments), found
