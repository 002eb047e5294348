"""A generated 300-check catalog (60 service files) synthesizes into stacks that each keep to
CloudFormation's, CloudWatch's and IAM's limits, and adding one check changes one service stack.

Two synths of 300 checks: about a minute each on a quiet machine (docs/performance.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import ENV, SAMPLE, Synth

from infra import assembly, budgets, estimate
from infra.catalog import load_catalog
from infra.stack import stack_name
from tests.support import scale_catalog

pytestmark = pytest.mark.slow

CHECKS = 300
GROWN_SERVICE = 17
# A logs_query check's grant once went to the core's shared role; now to its service's access role.
GROWN_KIND = "logs_query"


@pytest.fixture(scope="module")
def catalogs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = scale_catalog.write(tmp_path_factory.mktemp("scale") / "catalog", CHECKS)
    grown = tmp_path_factory.mktemp("scale") / "catalog"
    scale_catalog.write(grown, CHECKS)
    scale_catalog.add_check(grown, GROWN_SERVICE, GROWN_KIND)
    return base, grown


@pytest.fixture(scope="module")
def base(synthesize: Callable[[Path], Synth], catalogs: tuple[Path, Path]) -> Synth:
    return synthesize(catalogs[0])


@pytest.fixture(scope="module")
def grown(synthesize: Callable[[Path], Synth], catalogs: tuple[Path, Path]) -> Synth:
    return synthesize(catalogs[1])


def by_description(synth: Synth) -> dict[str, dict]:
    """Each template synth wrote, by the stack it is (the core, or `... service file <file>`)."""
    templates = [json.loads(path.read_text()) for path in synth.template_files]
    return {t["Description"]: t for t in templates}


def test_every_stack_keeps_to_its_budgets(base: Synth) -> None:
    stacks = budgets.read_assembly(base.outdir)
    assert len(stacks) == 1 + CHECKS // scale_catalog.CHECKS_PER_SERVICE
    assert budgets.check_assembly(base.outdir) == []
    # The walk measured something: the figures are real, not zeros.
    assert max(s.resources for s in stacks) > 100
    assert all(s.widgets for s in stacks)
    assert max(max(s.role_inline_chars, default=0) for s in stacks) > 1000


def test_the_core_floor_validate_counts_on_is_a_lower_bound(base: Synth, sample: Synth) -> None:
    for synth in (base, sample):
        core = json.loads((synth.outdir / f"{stack_name(ENV)}.template.json").read_text())["Resources"]
        files = sum(1 for r in core.values() if r["Type"] == assembly.NESTED_STACK)
        assert files and len(core) >= budgets.CORE_FLOOR + files


def test_all_300_checks_are_deployed_once(base: Synth, catalogs: tuple[Path, Path]) -> None:
    names = [
        r["Properties"]["AlarmName"]
        for r in base.of_type("AWS::CloudWatch::Alarm").values()
        if "AlarmName" in r["Properties"]
    ]
    assert len(names) == len(set(names))
    checks = load_catalog(catalogs[0]).checks
    assert all(any(n.startswith(f"vigil-{ENV}-{c.id}-") for n in names) for c in checks)


def test_adding_one_check_changes_only_its_service_stack(base: Synth, grown: Synth) -> None:
    before, after = by_description(base), by_description(grown)
    assert before.keys() == after.keys()
    changed = [name for name in before if before[name] != after[name]]
    core = f"vigil monitoring ({ENV})"
    assert set(changed) == {core, f"vigil monitoring ({ENV}): service file svc{GROWN_SERVICE:03d}"}
    # The core changes in one place: the URL of that service's template, a new content hash.
    diff = [
        logical_id
        for logical_id, resource in before[core]["Resources"].items()
        if after[core]["Resources"][logical_id] != resource
    ]
    assert len(diff) == 1
    (logical_id,) = diff
    assert f"svc{GROWN_SERVICE:03d}NestedStack" in logical_id
    was, now = before[core]["Resources"][logical_id], after[core]["Resources"][logical_id]
    # Its new template, and, when the check is the file's first of its kind, the checker's ARNs passed
    # in as new parameters: none that existed changes.
    old_parameters, new_parameters = was["Properties"]["Parameters"], now["Properties"]["Parameters"]
    assert new_parameters.items() >= old_parameters.items()
    strip = {"TemplateURL": None, "Parameters": None}
    assert {**was["Properties"], **strip} == {**now["Properties"], **strip}
    assert before[core].keys() == after[core].keys() and before[core]["Outputs"] == after[core]["Outputs"]


def estimate_against_synth(synth: Synth, catalog_dir: Path) -> dict[str, tuple[int, int]]:
    """Each service file's stack id → (real resources, validate's estimate)."""
    real = {
        t["Description"].rsplit(" ", 1)[-1]: len(t["Resources"])
        for t in by_description(synth).values()
        if "service file" in t["Description"]
    }
    estimated = estimate.by_file(load_catalog(catalog_dir))
    assert estimated.keys() == real.keys()
    return {file_id: (count, estimated[file_id]) for file_id, count in real.items()}


def test_validate_estimates_each_generated_service_stack_at_or_above_its_real_size(
    base: Synth, catalogs: tuple[Path, Path]
) -> None:
    for file_id, (real, estimated) in estimate_against_synth(base, catalogs[0]).items():
        assert real <= estimated <= real * 1.25 + 2, file_id


def test_validate_estimates_each_fixture_service_stack_at_or_above_its_real_size(sample: Synth) -> None:
    for file_id, (real, estimated) in estimate_against_synth(sample, SAMPLE).items():
        assert real <= estimated <= real * 1.25 + 2, file_id


def test_the_merged_view_holds_every_service_stacks_resources(base: Synth) -> None:
    nested = assembly.nested_stacks(base.outdir, stack_name(ENV))
    core = assembly.load(base.outdir, stack_name(ENV))["Resources"]
    assert len(base.resources) == len(core) - len(nested) + sum(len(n.template["Resources"]) for n in nested)
