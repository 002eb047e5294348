"""Kind consistency in the catalog: a query's simple column list must hold what the comparison reads."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from infra.catalog import CatalogError, load_catalog
from tests.support.catalogs import VALIDATION_CATALOG
from vigil.spec.consistency import select_columns


@pytest.mark.parametrize(
    ("query", "columns"),
    [
        ("SELECT id, total, updated_at FROM orders", ["id", "total", "updated_at"]),
        ("select o.order_id as id, o.total amount\nfrom shop.orders o", ["id", "amount"]),
        ("SELECT DISTINCT id FROM orders", ["id"]),
        ("SELECT TOP 10 id, total FROM dbo.orders", ["id", "total"]),
        ("SELECT * FROM orders", None),
        ("SELECT o.* FROM orders o", None),
        ("SELECT id, total * 100 AS cents FROM orders", None),
        ('SELECT "Order Id", total FROM orders', None),
        ("SELECT id, (SELECT max(t) FROM x) AS t FROM orders", None),
        ("SELECT id -- the key\n, total FROM orders", None),
        ("WITH o AS (SELECT id FROM orders) SELECT id FROM o", None),
    ],
)
def test_select_columns_reads_only_a_simple_column_list(query, columns):
    assert select_columns(query) == columns


def load_with(tmp_path: Path, **changes: object):
    root = tmp_path / "catalog"
    shutil.copytree(VALIDATION_CATALOG, root)
    data = yaml.safe_load((root / "data.yaml").read_text())
    check = next(c for c in data["checks"] if c["id"] == "shop-copy")
    check.update(changes)
    (root / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return load_catalog(root)


def sql_side(query: str, **fields: object) -> dict[str, object]:
    return {"type": "sql", "engine": "postgresql", "query": query, **fields}


def problem(tmp_path: Path, **changes: object) -> str:
    with pytest.raises(CatalogError) as caught:
        load_with(tmp_path, **changes)
    (only,) = caught.value.problems
    return str(only)


def test_a_query_without_the_key_column_is_refused_naming_it(tmp_path):
    line = problem(tmp_path, source=sql_side("SELECT order_id, total, updated_at FROM orders"))
    assert "check shop-copy: source.query: its column list (order_id, total, updated_at) lacks the key column 'id'" in (
        line
    )
    assert "source.key" in line  # the way out when the side names its key differently


def test_missing_fields_and_updated_at_are_named_too(tmp_path):
    line = problem(tmp_path, source=sql_side("SELECT id FROM orders"))
    assert "lacks column 'total' (field total), the updated-at column 'updated_at'" in line


def test_a_side_s_own_names_are_the_ones_its_query_must_select(tmp_path):
    renamed = {"key": "order_id", "columns": {"total": "amount"}, "updated_at": "changed"}
    check = load_with(tmp_path, source=sql_side("SELECT order_id, amount, changed FROM orders", **renamed))
    assert check.by_id("shop-copy").source.key == "order_id"
    line = problem(tmp_path / "b", source=sql_side("SELECT id, total, updated_at FROM orders", **renamed))
    assert "lacks the key column 'order_id', column 'amount' (field total), the updated-at column 'changed'" in line


def test_the_target_query_is_checked_as_well(tmp_path):
    target = sql_side("SELECT id, total FROM orders_copy")
    line = problem(tmp_path, target=target, target_secret="db-readonly")
    assert "target.query: its column list (id, total) lacks the updated-at column 'updated_at'" in line


@pytest.mark.parametrize(
    "query",
    [
        "SELECT ID, Total, Updated_At FROM orders",  # unquoted names match without regard to case
        "SELECT o.order_id AS id, o.total, o.updated_at FROM orders o",
        "SELECT * FROM orders",  # not a simple list: the run says what is missing
        "SELECT id, total * 1 AS total FROM orders",
    ],
)
def test_queries_that_select_everything_needed_or_are_not_simple_pass(tmp_path, query):
    assert load_with(tmp_path, source=sql_side(query)).by_id("shop-copy")
