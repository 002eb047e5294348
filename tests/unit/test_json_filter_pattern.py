"""vigil.json_filter_pattern against the examples of AWS's "Filter pattern syntax ...", section "Using filter
patterns to match terms in JSON log events" (CloudWatch Logs user guide), and what it refuses."""

from __future__ import annotations

import json
import re

import pytest

from vigil.json_filter_pattern import MAX_LENGTH, matches, parse

# The guide's first JSON example event.
EVENT = json.dumps(
    {
        "eventType": "UpdateTrail",
        "sourceIPAddress": "111.111.111.111",
        "arrayKey": ["value", "another value"],
        "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}],
        "SomeObject": None,
        "ThisFlag": True,
    }
)
# The guide's compound-conditions example event.
COMPOUND = json.dumps(
    {
        "user": {"id": 1, "email": "John.Stiles@example.com"},
        "users": [{"id": 2, "email": "John.Doe@example.com"}, {"id": 3, "email": "Jane.Doe@example.com"}],
        "actions": ["GET", "PUT", "DELETE"],
        "coordinates": [[0, 1, 2], [4, 5, 6], [7, 8, 9]],
    }
)


@pytest.mark.parametrize(
    "pattern",
    [
        '{ $.eventType = "UpdateTrail" }',
        "{ $.sourceIPAddress != 123.123.* }",
        '{ $.arrayKey[0] = "value" }',
        "{ $.objectList[1].id = 2 }",
        "{ $.SomeObject IS NULL }",
        "{ $.SomeOtherObject NOT EXISTS }",
        "{ $.ThisFlag IS TRUE }",
        "{ $.eventType = *Trail }",
        "{ $.eventType = Update* }",
    ],
)
def test_the_guides_matching_filters_match_its_event(pattern: str) -> None:
    assert matches(pattern, EVENT)


@pytest.mark.parametrize(
    "pattern",
    [
        '{ $.eventType = "CreateTrail" }',
        "{ $.sourceIPAddress != 111.111.* }",
        '{ $.arrayKey[1] = "value" }',
        "{ $.objectList[2].id = 2 }",
        "{ $.eventType IS NULL }",
        "{ $.SomeObject NOT EXISTS }",
        "{ $.ThisFlag IS FALSE }",
        "{ $.eventType = Ev*ent }",
    ],
)
def test_their_negations_do_not(pattern: str) -> None:
    assert not matches(pattern, EVENT)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ('{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }', True),
        ('{ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" }', False),
        (
            '{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch && $.actions[2] = nomatch }',
            True,
        ),
        (
            '{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch) && $.actions[2] = nomatch }',
            False,
        ),
    ],
)
def test_compound_conditions_follow_the_guides_precedence(pattern: str, expected: bool) -> None:
    assert matches(pattern, COMPOUND) is expected


def test_a_star_matches_any_text_before_or_after_a_term_but_not_inside_it() -> None:
    for name in ("PutEvent", "GetEvent"):
        assert matches("{ $.name = *Event }", json.dumps({"name": name}))
    assert matches("{ $.name = Event* }", '{"name": "EventId"}')
    assert matches("{ $.latency = * }", '{"latency": 700}') and matches("{ $.latency = * }", '{"latency": "7s"}')
    assert not matches("{ $.latency = * }", '{"latency": [700]}') and not matches("{ $.latency = * }", "{}")
    assert matches("{ $.name = Ev*ent }", '{"name": "Ev*ent"}')
    assert not matches("{ $.name = Ev*ent }", '{"name": "EvXent"}')


def test_a_selector_on_an_array_matches_neither_equal_nor_not_equal() -> None:
    # The guide: "both {$.users = 1} and {$.users != 1} will fail to match" an array.
    assert not matches("{ $.users = 1 }", '{"users": [1, 2, 3]}')
    assert not matches("{ $.users != 1 }", '{"users": [1, 2, 3]}')


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("{ $.latency >= 500 }", True),
        ("{ $.latency > +1000 }", False),
        ("{ $.numbers[0] < 10e3 }", True),
        ("{ $.numbers[0] < 10e-3 }", False),
        ("{ $.processes[4].averageRuntime <= 55.5 }", True),
        ("{ $.errorCode = 400 }", True),
        ("{ $.errorCode != 500 }", True),
    ],
)
def test_the_guides_numeric_comparisons(pattern: str, expected: bool) -> None:
    event = {"latency": 700, "numbers": [12], "errorCode": 400, "processes": [{}, {}, {}, {}, {"averageRuntime": 55.5}]}
    assert matches(pattern, json.dumps(event)) is expected


def test_strings_and_numbers_do_not_coerce_and_plain_text_never_matches() -> None:
    # vigil's reading where the guide is silent (module docstring).
    assert not matches('{ $.code = "137" }', '{"code": 137}')
    assert not matches("{ $.code = 137 }", '{"code": "137"}')
    assert not matches('{ $.a = "b" }', 'a = "b"')
    assert not matches('{ $.a = "b" }', '["b"]')


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("$.a = 1", "enclosed in { }"),
        ("{ $.a = %ab+% }", "regular expressions"),
        ("{ $.a }", "the pattern ends in the middle of a condition"),
        ("{ $.a = }", "the pattern ends in the middle of a condition"),
        ("{ $.a IS MISSING }", "use IS NULL, IS TRUE, IS FALSE or NOT EXISTS"),
        ('{ $.a > "x" }', "a string takes = or !="),
        ("{ ($.a = 1 }", "expected ) but found 'the end'"),
        ("{ $.a = 1 $.b = 2 }", "unexpected '$.b' after a complete condition"),
        ("{ a = 1 }", "expected a selector"),
        ("{ $.a ~ 1 }", "cannot read"),
        ("{ " + "$.a = 1 && " * 100 + "$.a = 1 }", f"CloudWatch allows at most {MAX_LENGTH}"),
    ],
)
def test_what_it_refuses_says_why(pattern: str, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        parse(pattern)
