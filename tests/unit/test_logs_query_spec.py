"""Kind `logs_query` catalog entries: the query is taken apart at load time, and errors say what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from infra.catalog import CatalogError, load_catalog
from vigil.spec.logs_query import LogsQueryCheck, sample_query, split_commands

SETTINGS = {
    "contacts": {"oncall": {"email": "oncall@example.com"}},
    "routes": {"all": {"email": ["oncall"]}},
    "self_monitoring_route": "all",
}
BASE = {
    "id": "api-errors",
    "kind": "logs_query",
    "severity": "warning",
    "log_groups": ["/ecs/api"],
    "query": 'filter level = "ERROR" | stats count(*) as errors',
}


def check(**fields: object) -> LogsQueryCheck:
    return LogsQueryCheck.model_validate({**BASE, "service": "api", **fields})


def catalog_problems(tmp_path: Path, entry: dict) -> list[str]:
    (tmp_path / "_settings.yaml").write_text(yaml.safe_dump(SETTINGS))
    (tmp_path / "api.yaml").write_text(yaml.safe_dump({"service": "api", "checks": [{**BASE, **entry}]}))
    with pytest.raises(CatalogError) as caught:
        load_catalog(tmp_path)
    return [str(p) for p in caught.value.problems]


def test_defaults_alarm_on_any_match_over_five_minutes():
    spec = check()
    assert (spec.window, spec.samples, spec.timeout, spec.value_field) == (300, 3, 30.0, None)
    assert spec.rule("value").describe() == "> 0 for 1 of 1 periods of 5m"
    assert spec.active_signals() == ["value", "measure"]


@pytest.mark.parametrize(
    ("query", "commands"),
    [
        ('filter level = "ERROR" | stats count(*)', ['filter level = "ERROR"', "stats count(*)"]),
        # Pipes inside quotes and regex literals belong to the command, not between commands.
        ("filter @message like /a|b/ | stats count(*)", ["filter @message like /a|b/", "stats count(*)"]),
        ("filter msg = 'x|y' | stats count(*)", ["filter msg = 'x|y'", "stats count(*)"]),
        ("filter @message =~ /\\/x|y/ | limit 1", ["filter @message =~ /\\/x|y/", "limit 1"]),
        ("fields `a|b` | stats sum(ms)/1000 as s", ["fields `a|b`", "stats sum(ms)/1000 as s"]),
    ],
)
def test_commands_split_at_pipes_outside_quotes_and_regexes(query: str, commands: list[str]):
    assert split_commands(query) == commands


def test_division_is_not_taken_for_a_regex():
    # "ms / 1000" divides; were it read as a regex opening, the pipe after it would vanish.
    assert split_commands("fields ms / 1000 as s | stats max(s)") == ["fields ms / 1000 as s", "stats max(s)"]


def test_sample_query_keeps_the_line_commands_before_stats():
    query = 'parse @message "svc=*" as svc | filter level = "ERROR" | sort svc | stats count(*) by svc | limit 5'
    assert sample_query(query, 3, with_log_group=False) == (
        'parse @message "svc=*" as svc | filter level = "ERROR" | fields @timestamp, @message'
        " | sort @timestamp desc | limit 3"
    )
    assert "fields @timestamp, @log, @message" in (sample_query(query, 2, with_log_group=True) or "")


def test_no_sample_query_without_a_filter_of_its_own():
    # Without a filter, "samples" would be any recent lines: better none than misleading ones.
    assert sample_query("stats count(*) as lines", 3, with_log_group=False) is None
    assert check(samples=0).sample_query() is None


@pytest.mark.parametrize(
    ("entry", "fragments"),
    [
        ({"query": "filter level = 'ERROR"}, ["check api-errors:", "query:", "unterminated ' quote"]),
        ({"query": "filter @message like /oops"}, ["query:", "unterminated regex"]),
        ({"query": "filter x = 1 || stats count(*)"}, ["query:", "empty command"]),
        ({"query": 'filter level = "ERROR"'}, ["no stats command", "value_field"]),
        ({"query": "   "}, ["query:", "empty command"]),
        ({"log_groups": []}, ["log_groups:", "at least 1"]),
        ({"log_groups": [f"/g/{i}" for i in range(51)]}, ["log_groups:", "at most 50"]),
        ({"log_groups": ["/a", "/a"]}, ["log_groups:", "listed more than once: /a"]),
        ({"log_groups": ["has space"]}, ["log_groups.0:", "found 'has space'; allowed: a log group name"]),
        ({"window": "90s"}, ["window: 90s: use whole minutes from 1m to 1d"]),
        ({"window": "2m", "cadence": "5m"}, ["window: 2m is shorter than the cadence 5m", "never be counted"]),
        ({"samples": 11}, ["samples:", "10"]),
        ({"timeout": 60, "cadence": "1m"}, ["timeout: 60s must be shorter than the cadence (60s)"]),
        ({"alarms": {"errors": {"threshold": 5}}}, ["alarms: unknown signal errors", "value, measure"]),
    ],
)
def test_catalog_errors_name_the_check_field_and_the_fix(tmp_path: Path, entry: dict, fragments: list[str]):
    problems = catalog_problems(tmp_path, entry)
    assert len(problems) == 1, problems
    for fragment in fragments:
        assert fragment in problems[0]


def test_a_stats_free_query_is_fine_with_a_value_field():
    spec = check(query="filter ms > 0 | fields ms | sort ms desc | limit 1", value_field="ms")
    assert spec.value_field == "ms"


def test_the_check_survives_the_round_trip_through_its_schedule_event():
    spec = check(window="15m", cadence="5m", alarms={"value": {"threshold": 10, "comparison": ">="}})
    again = LogsQueryCheck.model_validate(spec.model_dump(mode="json"))
    assert again == spec
    assert again.rule("value").threshold == 10
