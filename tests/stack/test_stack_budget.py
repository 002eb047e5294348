"""A catalog too big for a stack fails at synth, naming the stack and what to do, not at deploy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import SAMPLE, Synth

from infra import budgets, stack

pytestmark = pytest.mark.slow


def test_within_the_budget_says_nothing():
    assert stack.resource_budget("Vigil-demo", budgets.RESOURCE_BUDGET) is None


def test_over_the_budget_names_the_stack_the_count_and_the_way_out():
    problem = stack.resource_budget("Vigil-demo service file payments", 452)

    assert problem is not None
    assert "Vigil-demo service file payments would hold 452 CloudFormation resources" in problem
    assert "over the budget of 450 (CloudFormation allows 500 per stack)" in problem
    assert "new service file" in problem


def test_a_core_over_the_budget_says_to_merge_service_files_or_split_environments():
    problem = stack.resource_budget("Vigil-demo", 752, service_files=600)

    assert problem is not None
    assert "Vigil-demo would hold 752 CloudFormation resources" in problem
    assert "one nested stack per service file (600 here)" in problem
    assert "merge small service files" in problem and "more environments" in problem
    assert "new service file" not in problem


def test_synth_fails_naming_each_service_stack_over_budget(synthesize: Callable[[Path], Synth], monkeypatch):
    # campaign-db's stack holds 26 resources, messaging's 18: a budget of 20 stands in for a big file.
    monkeypatch.setattr(budgets, "RESOURCE_BUDGET", 20)

    with pytest.raises(Exception, match=r"service file campaign-db would hold \d+ CloudFormation resources") as raised:
        synthesize(SAMPLE)
    assert "service file messaging " not in str(raised.value)
