"""infra.sizing: checker memory, timeouts, reserved concurrency and the load of a catalog, by hand."""

from __future__ import annotations

from functools import reduce

import pytest

from infra.catalog import load_catalog
from infra.sizing import (
    HEADROOM,
    catalog_load,
    checker_groups,
    checker_memory_mb,
    checker_timeout,
    reservation_step,
    reserved_concurrency,
    scaled,
    worst_concurrency,
)
from tests.support.catalogs import FIXTURE_CATALOG
from vigil.spec.http import HttpCheck


def http(check_id: str, cadence: int = 60, timeout: float = 5) -> HttpCheck:
    return HttpCheck.model_validate(
        {
            "id": check_id,
            "kind": "http",
            "service": "api",
            "severity": "critical",
            "url": "https://api.example.com/health",
            "cadence": cadence,
            "timeout": timeout,
        }
    )


def test_memory_per_kind():
    assert checker_memory_mb("http") == 128
    assert checker_memory_mb("consistency") == 1769
    assert checker_memory_mb("sql") == 256


def test_timeout_is_the_slowest_check_plus_margin_within_the_fastest_cadence():
    assert checker_timeout([http("a", timeout=5), http("b", cadence=300, timeout=20)]) == 30
    assert checker_timeout([http("a", timeout=50)]) == 55  # 60 s cadence - 5 s margin
    with pytest.raises(ValueError, match="checks a: a 56s check timeout leaves no room in a 60s cadence"):
        checker_timeout([http("a", timeout=56)])


def test_ten_thousand_one_minute_http_checks_by_hand():
    checks = scaled([http("api-health")], 10_000)
    assert len({c.id for c in checks}) == 10_000
    (load,) = catalog_load(checks)
    assert load.name == "http" and load.checks == 10_000
    assert load.invocations_per_second == pytest.approx(10_000 / 60)  # 166.7 a second
    assert load.typical_concurrency == pytest.approx(10_000 * 0.5 / 60)  # 83.3 runs at once
    # every run taking the function's 15 s timeout (5 s + 10 s margin): 2,500 at once
    assert load.worst_concurrency == worst_concurrency(checks, 15) == 2_500
    # reserved: 3 × typical (250), far below the worst case, in the step above it
    assert round(HEADROOM * 83.34) == 250
    assert load.reserved == reserved_concurrency(checks, 15) == 500


def test_a_small_checker_reserves_the_smallest_step():
    checks = [http("a"), http("b", cadence=300)]
    # worst 15/60 + 15/300 = 0.3 → 1; typical × 3 = 3 × (0.5/60 + 0.5/300) = 0.03 → 1; the first step is 5
    assert reserved_concurrency(checks, 15) == 5


@pytest.mark.parametrize(("need", "step"), [(1, 5), (5, 5), (6, 10), (21, 50), (250, 500), (1000, 1000), (1001, 2000)])
def test_reservations_go_up_in_steps(need: int, step: int) -> None:
    assert reservation_step(need) == step


def test_one_more_check_leaves_the_reservation_where_it_was():
    checks = [http(f"c{i}") for i in range(100)]  # typical 100 × 0.5/60 = 0.83 → 3 → step 5
    assert reserved_concurrency(checks, 15) == reserved_concurrency([*checks, http("new")], 15) == 5


def test_one_function_per_kind_and_placement():
    catalog = load_catalog(FIXTURE_CATALOG)
    groups = checker_groups(catalog.checks)
    assert all(c.has_checker for peers in groups.values() for c in peers)
    assert sum(len(p) for p in groups.values()) == sum(1 for c in catalog.checks if c.has_checker)
    assert all(all(c.kind == kind for c in peers) for (kind, _), peers in groups.items())


def test_catalog_total_adds_every_function():
    loads = catalog_load(scaled(load_catalog(FIXTURE_CATALOG).checks, 1_000))
    total = reduce(lambda a, b: a + b, loads)
    assert total.checks == sum(row.checks for row in loads)
    assert total.reserved == sum(row.reserved for row in loads)
    assert total.invocations_per_second == pytest.approx(sum(row.invocations_per_second for row in loads))
