"""Anomaly detection bands and percentile statistics: in the catalog's rules, the local alarm model,
alarm unit tests and plan's prices."""

from __future__ import annotations

import pytest
import yaml

from infra.__main__ import main
from infra.alarm_model import AlarmState, BandNeeded, aggregate, evaluate, periods_to_alarm
from infra.catalog import load_catalog
from infra.plan import ANOMALY_ALARM_METRICS, load_prices, plan_catalog
from tests.support.catalogs import catalog_problems, has_problem, write_catalog
from vigil.spec.common import AlarmRule, AnomalyBand, BandSide, Comparison, MissingData, Statistic
from vigil.spec.ecs import EcsCheck

OK, ALARM = AlarmState.OK, AlarmState.ALARM
ECS = {"id": "api", "kind": "ecs", "severity": "critical", "cluster": "prod", "ecs_service": "api"}


def band_rule(side: BandSide, m: int = 2, n: int = 3, missing: MissingData = MissingData.not_breaching) -> AlarmRule:
    return AlarmRule(
        threshold=0,
        comparison=Comparison.gt,
        evaluation_periods=n,
        datapoints_to_alarm=m,
        missing_data=missing,
        band=AnomalyBand(std_devs=2, side=side),
    )


@pytest.mark.parametrize(
    ("side", "value", "breaches"),
    [
        (BandSide.outside, 5, True),
        (BandSide.outside, 95, True),
        (BandSide.outside, 50, False),
        (BandSide.above, 95, True),
        (BandSide.above, 5, False),
        (BandSide.below, 5, True),
        (BandSide.below, 95, False),
    ],
)
def test_each_band_side_breaches_on_its_side_only(side, value, breaches):
    # Band [10, 90]: two breaching points of three reach ALARM, none stays OK.
    states = evaluate(band_rule(side), [50.0, value, value], AlarmState.OK, band=(10.0, 90.0))
    assert states[-1] is (ALARM if breaches else OK)


def test_a_band_rule_is_refused_without_a_band_and_timed_like_a_threshold():
    rule = band_rule(BandSide.outside)
    with pytest.raises(BandNeeded):
        evaluate(rule, [1.0])
    # Where the band lies does not change the timing: M of N and missing data do.
    assert periods_to_alarm(rule) == 2
    assert periods_to_alarm(band_rule(BandSide.below, m=3, n=3)) == 3


def test_band_rules_describe_themselves_and_forbid_a_threshold_beside_them(tmp_path):
    spec = EcsCheck.model_validate(
        {**ECS, "service": "api", "alarms": {"cpu": {"band": {"std_devs": 3, "side": "above"}}}}
    )
    assert spec.rule("cpu").describe("%") == "above the anomaly band (3 standard deviations) for 5 of 5 minutes"
    found = catalog_problems(tmp_path, [{**ECS, "alarms": {"cpu": {"band": {}, "threshold": 80}}}])
    assert has_problem(found, "alarms.cpu: give a threshold and comparison, or a band, not both"), found


def test_a_band_only_fits_a_signal_that_reads_one_plain_metric(tmp_path):
    # tasks_short is metric math (desired - running): CloudWatch's band needs one plain metric.
    found = catalog_problems(tmp_path, [{**ECS, "alarms": {"tasks_short": {"band": {}}}}])
    assert has_problem(
        found,
        "alarms.tasks_short.band: an anomaly band fits only a signal that reads one plain metric",
        "take one: cpu, memory",
    ), found
    http = {"id": "web", "kind": "http", "severity": "critical", "url": "https://example.com/health"}
    found = catalog_problems(tmp_path, [{**http, "alarms": {"down": {"band": {"std_devs": 2}}}}])
    assert has_problem(found, "alarms.down.band", "take one: none"), found


def test_percentiles_are_statistics_and_aggregate_by_nearest_rank():
    assert Statistic("p99").percentile == 99.0
    assert Statistic.average.percentile is None
    samples = [float(v) for v in range(1, 101)]  # 1..100
    assert aggregate(Statistic.p99, samples) == 99.0
    assert aggregate(Statistic.p50, samples) == 50.0
    assert aggregate(Statistic.p90, [3.0, 1.0, 2.0]) == 3.0
    assert aggregate(Statistic.p95, []) is None


def test_alarm_unit_tests_state_the_band_they_assume(tmp_path):
    root = write_catalog(tmp_path, [{**ECS, "alarms": {"cpu": {"band": {"side": "above"}}}}])
    (root / "tests").mkdir()
    test = {"check": "api", "signal": "cpu", "values": "50 95x5", "expect": {4: "OK", 5: "ALARM"}}
    (root / "tests" / "t.yaml").write_text(yaml.safe_dump({"tests": [{**test, "band": [20, 80]}]}))
    assert main(["test-alarms", str(root)]) == 0

    (root / "tests" / "t.yaml").write_text(yaml.safe_dump({"tests": [test]}))
    assert main(["test-alarms", str(root)]) == 1

    bad = {**test, "signal": "memory", "band": [80, 20]}
    (root / "tests" / "t.yaml").write_text(yaml.safe_dump({"tests": [bad]}))
    assert main(["test-alarms", str(root)]) == 1


def test_alarm_unit_test_band_problems_name_the_fix(tmp_path, capsys):
    root = write_catalog(tmp_path, [{**ECS, "alarms": {"cpu": {"band": {}}}}])
    (root / "tests").mkdir()
    (root / "tests" / "t.yaml").write_text(
        yaml.safe_dump(
            {
                "tests": [
                    {"check": "api", "signal": "cpu", "values": "1", "expect": {0: "OK"}},
                    {"check": "api", "signal": "memory", "values": "1", "expect": {0: "OK"}, "band": [0, 1]},
                    {"check": "api", "signal": "memory", "values": "1", "expect": {0: "OK"}, "band": [5, 1]},
                ]
            }
        )
    )
    main(["test-alarms", str(root)])
    out = capsys.readouterr().out
    assert "tests[0].band: api/cpu alarms on an anomaly band" in out and "band: [40, 60]" in out
    assert "tests[1].band: api/memory alarms on a threshold, not a band; remove band" in out
    assert "tests[2].band: found [5, 1]; expected [lower, upper]" in out


def test_plan_prices_a_band_alarm_as_three_alarm_metrics(tmp_path):
    plain = load_catalog(write_catalog(tmp_path, [ECS]))
    banded = load_catalog(write_catalog(tmp_path, [{**ECS, "alarms": {"cpu": {"band": {}}}}]))
    price = load_prices()["alarm_standard_month"]
    (before,), _ = plan_catalog(plain, load_prices())
    (after,), _ = plan_catalog(banded, load_prices())
    assert ANOMALY_ALARM_METRICS == 3
    assert after.cost_breakdown["alarms"] - before.cost_breakdown["alarms"] == pytest.approx(2 * price)
