"""A catalog too big for one stack fails at synth, with what to do, not at deploy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import ENV, SAMPLE, Synth

from infra import stack

pytestmark = pytest.mark.slow


def test_within_the_limit_says_nothing():
    assert stack.resource_budget(ENV, stack.STACK_RESOURCE_LIMIT) is None


def test_over_the_limit_names_the_count_and_the_way_out():
    problem = stack.resource_budget(ENV, 512)

    assert problem is not None
    assert "Vigil-demo would hold 512 CloudFormation resources, more than the 500" in problem
    assert "environments.yaml" in problem


def test_synth_fails_when_the_stack_is_over_budget(synthesize: Callable[[Path], Synth], monkeypatch):
    # The sample takes about 200 resources; a lower limit stands in for a catalog four times its size.
    monkeypatch.setattr(stack, "STACK_RESOURCE_LIMIT", 100)

    with pytest.raises(Exception, match=r"CloudFormation resources, more than the 100 a stack allows"):
        synthesize(SAMPLE)
