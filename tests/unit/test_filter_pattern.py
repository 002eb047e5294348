"""vigil.filter_pattern against AWS's documented examples for unstructured log events, and what it rejects."""

from __future__ import annotations

import re

import pytest

from vigil.filter_pattern import MAX_LENGTH, matches, parse

# The four events of AWS's "Using filter patterns to match terms in unstructured log events".
BAD_REQUEST = "[ERROR 400] BAD REQUEST"
UNAUTHORIZED = "[ERROR 401] UNAUTHORIZED REQUEST"
MISSING = "[ERROR 419] MISSING ARGUMENTS"
INVALID = "[ERROR 420] INVALID ARGUMENTS"
EVENTS = [BAD_REQUEST, UNAUTHORIZED, MISSING, INVALID]


def matched(pattern: str, events: list[str] = EVENTS) -> list[str]:
    return [e for e in events if matches(pattern, e)]


def test_a_single_term_matches_every_event_containing_it() -> None:
    assert matched("ERROR") == EVENTS


def test_several_terms_must_all_appear() -> None:
    assert matched("ERROR ARGUMENTS") == [MISSING, INVALID]


def test_question_marked_terms_need_any_one_of_them() -> None:
    assert matched("?ERROR ?ARGUMENTS") == EVENTS
    assert matched("?BAD ?INVALID") == [BAD_REQUEST, INVALID]
    assert matched("?WARN ?DEBUG") == []


def test_a_quoted_phrase_matches_exactly_that_sequence() -> None:
    assert matched('"INTERNAL SERVER ERROR"', [*EVENTS, "[ERROR 500] INTERNAL SERVER ERROR"]) == [
        "[ERROR 500] INTERNAL SERVER ERROR"
    ]
    assert not matches('"SERVER INTERNAL"', "[ERROR 500] INTERNAL SERVER ERROR")


def test_a_minus_excludes_events_with_the_term() -> None:
    assert matched("ERROR -ARGUMENTS") == [BAD_REQUEST, UNAUTHORIZED]
    assert matched('ERROR -"MISSING ARGUMENTS"') == [BAD_REQUEST, UNAUTHORIZED, INVALID]


@pytest.mark.parametrize("pattern", ['" "', '""', ""])
def test_a_blank_phrase_or_empty_pattern_matches_everything(pattern: str) -> None:
    assert matched(pattern, [*EVENTS, "", "x"]) == [*EVENTS, "", "x"]


def test_matching_is_case_sensitive() -> None:
    assert matched("error") == []
    assert not matches('"Error: 823,"', "error: 823, severity: 24")


def test_a_bare_term_is_a_whole_word_and_a_phrase_a_substring() -> None:
    # vigil's reading where AWS is silent (see the module docstring).
    assert not matches("ERR", BAD_REQUEST)
    assert not matches("ERROR", "ERRORS: 3")
    assert not matches("ERROR", "x_ERROR")  # _ is a word character
    assert matches('"ERR"', BAD_REQUEST)


def test_a_phrase_ending_in_punctuation_pins_the_number() -> None:
    assert matches('"Severity: 17,"', "Error: 9002, Severity: 17, State: 4.")
    assert not matches('"Severity: 17,"', "Error: 50000, Severity: 1, State: 1.")
    assert not matches('"Severity: 17,"', "Error: 50000, Severity: 170, State: 1.")
    assert not matches('"Error: 823,"', "Error: 8230, Severity: 16, State: 1.")


def test_parse_keeps_the_three_groups_apart() -> None:
    parsed = parse('ERROR "MISSING ARGUMENTS" -INVALID')
    assert [t.text for t in parsed.required] == ["ERROR", "MISSING ARGUMENTS"]
    assert [t.text for t in parsed.excluded] == ["INVALID"]
    assert parsed.any_of == ()


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ('{ $.eventType = "UpdateTrail" }', "JSON patterns are valid CloudWatch but vigil validates only term"),
        ("[ip, user, username, timestamp, request, status_code = 404, bytes]", "space-delimited patterns"),
        ("%AUTHORIZED%", "regular-expression patterns"),
        ("Error: 823", "term 'Error:' has characters other than letters, digits and _: quote it"),
        ('"Error: 823', "unterminated quote"),
        ('"Error:"823', "a space must follow the phrase"),
        ("ERROR ?WARN", "mixes ?term with plain or -term terms"),
        ("?ERROR -WARN", "mixes ?term"),
        ("ERROR -", "is not followed by a term"),
        ("x" * (MAX_LENGTH + 1), "CloudWatch allows at most 1024"),
    ],
)
def test_what_vigil_rejects_says_why(pattern: str, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        parse(pattern)
