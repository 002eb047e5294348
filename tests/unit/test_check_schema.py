"""vigil.check_schema: the checkers' pydantic-free input check agrees with the catalog models."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from infra.catalog import load_catalog
from infra.kinds import KINDS
from tests.support.catalogs import FIXTURE_CATALOG
from vigil import check_schema
from vigil.spec.http import HttpCheck

CHECKER_KINDS = [name for name, kind in KINDS.items() if kind.model.schema_checked]
BASE: dict[str, Any] = {
    "id": "api-health",
    "kind": "http",
    "service": "campaign-api",
    "severity": "critical",
    "url": "https://api.example.com/health",
}

# (change to BASE, a fragment of the message check_schema must give). Each is also a catalog error.
REJECTED = [
    ({"colour": "red"}, "colour: unknown field; allowed:"),
    ({"url": 7}, "url: 7 is not a string"),
    ({"url": "ftp://example.com/"}, 'url: "ftp://example.com/" does not match'),
    ({"url": "http://" + "x" * 2000}, "url: must have at most 2000 characters"),
    ({"method": "PUT"}, 'method: "PUT" is not one of "GET", "HEAD", "POST"'),
    ({"expect_status": []}, "expect_status: must have at least 1 items"),
    ({"expect_status": [200.5]}, "expect_status.0: 200.5 is not an integer"),
    ({"expect_status": [True]}, "expect_status.0: true is not an integer"),
    ({"max_latency_ms": 0}, "max_latency_ms: 0 must be >= 1"),
    ({"max_latency_ms": 60001}, "max_latency_ms: 60001 must be <= 60000"),
    ({"timeout": 0}, "timeout: 0 must be > 0"),
    ({"severity": "low"}, 'severity: "low" is not one of "critical", "warning"'),
    ({"cadence": "5x"}, "cadence:"),
    ({"cadence": 0}, "cadence: 0 must be >= 1"),
    ({"id": "Not A Slug"}, "id:"),
    ({"kind": "sqs"}, 'kind: "sqs" must be "http"'),
    ({"json_assert": {"equals": 1}}, "json_assert.path: required"),
    ({"json_assert": {"path": "", "equals": 1}}, "json_assert.path: must have at least 1 characters"),
    ({"json_assert": {"path": "a", "equals": [1]}}, "json_assert.equals:"),
    ({"alarms": {"down": {"threshold": "high"}}}, 'alarms.down.threshold: "high" is not a number'),
    ({"alarms": {"down": {"treshold": 1}}}, "alarms.down.treshold: unknown field"),
    (
        {"vpc": {"vpc_id": "vpc-0123456789abcdef0", "subnet_ids": [], "security_group_ids": ["sg-0123456789abcdef0"]}},
        "vpc.subnet_ids: must have at least 1 items",
    ),
    ({"headers_secret": "Has Spaces"}, "headers_secret:"),
]


def with_change(change: dict[str, Any]) -> dict[str, Any]:
    return {**BASE, **change}


@pytest.mark.parametrize("kind", CHECKER_KINDS)
def test_every_checker_schema_is_committed_and_fully_understood(kind):
    schema = check_schema.load(kind)  # raises on a keyword check_schema does not implement

    assert schema == KINDS[kind].model.model_json_schema(), "stale: run python -m infra schema"


def test_an_unimplemented_keyword_is_refused():
    assert check_schema.unsupported_keywords({"properties": {"x": {"oneOf": [], "title": "t"}}}) == {"oneOf"}
    # Property names are not keywords.
    assert check_schema.unsupported_keywords({"properties": {"oneOf": {"type": "string"}}}) == set()


@pytest.mark.parametrize(
    ("change", "message"), REJECTED, ids=[next(iter(c)) + str(i) for i, (c, _) in enumerate(REJECTED)]
)
def test_what_the_model_rejects_the_schema_rejects_and_says_where(change, message):
    instance = with_change(change)
    with pytest.raises(ValidationError):
        HttpCheck.model_validate(instance)

    with pytest.raises(check_schema.SchemaError) as caught:
        check_schema.validate(instance, check_schema.load("http"))

    assert message in str(caught.value)


def test_every_problem_is_listed_and_counted():
    instance = with_change({"url": 7, "method": "PUT", "colour": "red"})

    problems = check_schema.errors(instance, check_schema.load("http"))

    assert len(problems) == 3
    with pytest.raises(check_schema.SchemaError, match=r"\(and 2 more\)"):
        check_schema.validate(instance, check_schema.load("http"))


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"cadence": "1m", "timeout": 2, "expect_status": [200, 204], "method": "HEAD"},
        {"json_assert": {"path": "checks.0.ok", "equals": True}, "team": None, "vpc": None},
        {"alarms": {"down": {"threshold": 1, "evaluation_periods": 3, "period": "5m"}}},
        {"max_latency_ms": 5.0},  # JSON has one number type
    ],
)
def test_what_the_model_accepts_the_schema_accepts(change):
    instance = with_change(change)
    HttpCheck.model_validate(instance)

    assert check_schema.errors(instance, check_schema.load("http")) == []


def test_every_sample_check_as_its_schedule_carries_it_passes():
    catalog = load_catalog(FIXTURE_CATALOG)
    for check in catalog.checks:
        if check.kind in CHECKER_KINDS:
            assert check_schema.errors(check.model_dump(mode="json"), check_schema.load(check.kind)) == [], check.id


def test_defaults_come_from_the_model():
    filled = check_schema.with_defaults(BASE, check_schema.load("http"))

    model = HttpCheck.model_validate(BASE)
    for name in ("method", "expect_status", "max_latency_ms", "timeout", "json_assert", "headers_secret", "cadence"):
        assert filled[name] == getattr(model, name), name
