"""Kind log_pattern in the catalog: signals per pattern, their rules and severities, and clear errors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from infra.catalog import CatalogError, load_catalog
from vigil.spec.common import Comparison, MissingData, Severity, Statistic
from vigil.spec.log_pattern import LogPatternCheck

SETTINGS = {
    "contacts": {"oncall": {"email": "oncall@example.com", "sms": "+447700900123"}, "desk": {"email": "d@example.com"}},
    "routes": {
        "crit": {"severities": ["critical"], "email": ["oncall"], "sms": ["oncall"]},
        "warn": {"severities": ["warning"], "email": ["desk"]},
    },
    "self_monitoring_route": "crit",
}
CHECK = {"id": "db-errors", "kind": "log_pattern", "severity": "warning", "log_group": "/aws/rds/instance/db/error"}
OWN = {"name": "log-full", "pattern": '"is full due to"', "explain": "9002: a transaction log is full."}


def load(tmp_path: Path, settings: dict = SETTINGS, **fields: object):
    (tmp_path / "_settings.yaml").write_text(yaml.safe_dump(settings))
    (tmp_path / "db.yaml").write_text(yaml.safe_dump({"service": "db", "checks": [{**CHECK, **fields}]}))
    return load_catalog(tmp_path)


def problems(tmp_path: Path, **fields: object) -> list[str]:
    with pytest.raises(CatalogError) as caught:
        load(tmp_path, **fields)
    # Without the line number (test_catalog covers lines): these tests read the message.
    return [str(replace(p, line=None)) for p in caught.value.problems]


def test_each_pattern_is_a_signal_with_its_own_metric_severity_and_explanation(tmp_path: Path) -> None:
    check = load(tmp_path, preset="sqlserver", patterns=[OWN]).by_id("db-errors")
    assert isinstance(check, LogPatternCheck)
    assert check.active_signals() == [
        *("severity-17plus", "io-error-823", "checksum-824", "read-retry-825", "deadlock", "login-failures"),
        "log-full",
    ]
    io = check.signals["io-error-823"]
    assert (io.metric, io.severity, io.unit) == ("db-errors.io-error-823", Severity.critical, "lines")
    assert io.summary.startswith("823: the OS failed a read or write")
    assert check.signals["log-full"].severity is None  # the check's severity applies
    assert type(check).signals == {}  # signals exist per catalog entry only


def test_a_pattern_rule_is_a_count_over_one_window(tmp_path: Path) -> None:
    own = {**OWN, "threshold": 4, "window": "15m"}
    check = load(tmp_path, patterns=[own], alarms={"log-full": {"threshold": 2}}).by_id("db-errors")
    rule = check.rule("log-full")
    assert (rule.threshold, rule.comparison, rule.statistic) == (2, Comparison.ge, Statistic.sum)
    assert (rule.period, rule.evaluation_periods, rule.datapoints_to_alarm) == (900, 1, 1)
    assert rule.missing_data is MissingData.not_breaching


def test_preset_defaults_and_overrides(tmp_path: Path) -> None:
    check = load(tmp_path, preset="sqlserver", alarms={"login-failures": {"threshold": 25, "period": "10m"}})
    rules = check.by_id("db-errors").rules()
    assert (rules["login-failures"].threshold, rules["login-failures"].period) == (25, 600)
    assert (rules["io-error-823"].threshold, rules["io-error-823"].period) == (1, 300)


def test_settings_alarm_defaults_leave_log_patterns_alone(tmp_path: Path) -> None:
    settings = {**SETTINGS, "defaults": {"alarm": {"evaluation_periods": 3, "datapoints_to_alarm": 2}}}
    rule = load(tmp_path, settings, preset="sqlserver").by_id("db-errors").rule("deadlock")
    assert (rule.evaluation_periods, rule.datapoints_to_alarm) == (1, 1)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, "check db-errors: patterns: give a preset, patterns, or both"),
        ({"preset": "oracle"}, "check db-errors: preset: found 'oracle'; allowed: 'sqlserver'"),
        (
            {"preset": "sqlserver", "patterns": [{**OWN, "name": "deadlock"}]},
            "patterns: name 'deadlock' is used twice (the sqlserver preset has it)",
        ),
        ({"patterns": [OWN, OWN]}, "patterns: name 'log-full' is used twice (two patterns have it)"),
        (
            {"patterns": [{**OWN, "pattern": "Error: 9002"}]},
            "patterns.0.pattern: term 'Error:' has characters other than letters, digits and _: quote it",
        ),
        (
            {"patterns": [{**OWN, "pattern": "[w1=ERROR, w2]"}]},
            "patterns.0.pattern: space-delimited patterns are valid CloudWatch but vigil validates only term patterns",
        ),
        ({"patterns": [{**OWN, "window": "90s"}]}, "patterns.0.window: window 90s: use whole minutes from 1m to 1d"),
        ({"patterns": [{**OWN, "explain": "two\nlines"}]}, "patterns.0.explain: found 'two\\nlines'"),
        ({"patterns": [{**OWN, "threshold": 0}]}, "patterns.0.threshold"),
        ({"preset": "sqlserver", "log_group": "rds error log"}, "log_group: found 'rds error log'"),
        (
            {"preset": "sqlserver", "alarms": {"login-failure": {"threshold": 3}}},
            "alarms: unknown signal login-failure; kind log_pattern has severity-17plus, io-error-823",
        ),
    ],
)
def test_a_bad_entry_is_one_clear_line(tmp_path: Path, fields: dict, expected: str) -> None:
    found = problems(tmp_path, **fields)
    assert len(found) == 1 and expected in found[0], found
    assert found[0].startswith(f"{tmp_path / 'db.yaml'}: check db-errors: ")
