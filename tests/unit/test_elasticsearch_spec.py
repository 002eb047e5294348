"""The elasticsearch catalog model: signals, the window, queries, aggregations and clear errors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from infra.catalog import CatalogError, load_catalog
from tests.support.catalogs import FIXTURE_CATALOG
from vigil.spec.common import Comparison
from vigil.spec.elasticsearch import ElasticsearchCheck

BASE: dict[str, Any] = {
    "id": "campaign-api-errors",
    "kind": "elasticsearch",
    "service": "campaign-api",
    "severity": "critical",
    "cadence": 60,
    "url": "https://logs.internal:9200",
    "index": "logs-campaign-*",
}


def check(**fields: Any) -> ElasticsearchCheck:
    return ElasticsearchCheck.model_validate({**BASE, **fields})


def error_of(**fields: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        check(**fields)
    return str(caught.value)


def test_defaults_count_everything_in_five_minutes_and_alarm_on_any_hit() -> None:
    spec = check()
    assert (spec.query, spec.time_field, spec.window, spec.samples, spec.sample_fields) == (
        None,
        "@timestamp",
        300,
        3,
        ["message"],
    )
    assert spec.active_signals() == ["count", "measure"]
    rule = spec.rule("count")
    assert (rule.threshold, rule.comparison, rule.datapoints_to_alarm, rule.evaluation_periods) == (
        0,
        Comparison.gt,
        1,
        1,
    )
    assert rule.period == spec.cadence


def test_aggregation_adds_its_signal_and_needs_a_threshold() -> None:
    spec = check(aggregation={"type": "max", "field": "duration_ms"}, alarms={"aggregate": {"threshold": 2000}})
    assert spec.active_signals() == ["count", "aggregate", "measure"]
    assert spec.rule("aggregate").threshold == 2000

    assert "alarms.aggregate.threshold: required with an aggregation (max of duration_ms)" in error_of(
        aggregation={"type": "max", "field": "duration_ms"}
    )
    assert "alarms.aggregate: only with an aggregation" in error_of(alarms={"aggregate": {"threshold": 1}})


def test_cardinality_is_refused_with_the_reason() -> None:
    message = error_of(aggregation={"type": "cardinality", "field": "user.id"}, alarms={"aggregate": {"threshold": 5}})
    assert "cardinality is approximate" in message and "allowed: sum, min, max or avg" in message


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"query": {"term": {"level": "ERROR"}}}, 'without the outer {"query": ...}'),
        ({"term": {"level": "ERROR"}, "match": {"x": 1}}, "exactly one key"),
        ("  ", "empty query string"),
    ],
)
def test_a_query_is_one_clause_or_a_query_string(query: Any, message: str) -> None:
    assert message in error_of(query=query)


def test_both_query_forms_are_accepted() -> None:
    assert check(query="level:ERROR AND service:campaign-api").query == "level:ERROR AND service:campaign-api"
    clause = {"bool": {"filter": [{"term": {"log.level": "ERROR"}}]}}
    assert check(query=clause).query == clause


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"window": "30s", "cadence": "1m"}, "window 30s is shorter than the cadence 1m"),
        ({"window": "25h"}, "window 25h: at most 24h"),
        ({"timeout": 60}, "timeout 60s must be shorter than the cadence"),
        ({"index": "Logs-Campaign"}, "index"),
        ({"index": "logs campaign"}, "index"),
        ({"samples": 11}, "samples"),
        ({"sample_fields": []}, "sample_fields"),
        ({"url": "https://logs.internal:9200/?pretty"}, "url"),
        ({"auth_secret": "Not A Slug"}, "auth_secret"),
    ],
)
def test_invalid_fields_are_named(fields: dict[str, Any], message: str) -> None:
    assert message in error_of(**fields)


def test_the_catalog_error_names_file_check_and_field(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    (catalog / "_settings.yaml").write_text((FIXTURE_CATALOG / "_settings.yaml").read_text())
    entry = {k: v for k, v in BASE.items() if k != "service"} | {"window": "30s", "cadence": "5m"}
    (catalog / "logs.yaml").write_text(
        yaml.safe_dump({"service": "campaign-api", "team": "campaigns", "checks": [entry]})
    )
    with pytest.raises(CatalogError) as caught:
        load_catalog(catalog)
    (problem,) = caught.value.problems
    text = str(replace(problem, line=None))  # test_catalog covers lines
    assert "logs.yaml: check campaign-api-errors: window: 30s is shorter than the cadence 5m" in text


def test_the_sample_check_validates_and_its_event_fits_the_generated_schema() -> None:
    catalog = load_catalog(FIXTURE_CATALOG)
    checks = [c for c in catalog.checks if c.kind == "elasticsearch"]
    assert checks, "the fixture catalog's campaign-logs.yaml has an elasticsearch check"
    for spec in checks:
        assert ElasticsearchCheck.model_validate(spec.model_dump(mode="json")) == spec
