"""The catalogs that tests read.

Product tests read fixture catalogs under tests/fixtures/ (catalog/ is the sample as it stood
when the suite stopped reading checks/), never checks/: that directory is the user's catalog, and
a team replacing it must not break the suite (`make test` gives it validate, test-alarms and a
synth, in the Makefile's check-catalog). tests/support/catalog_guard.py fails any test that
reads it.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURE_CATALOG = REPO_ROOT / "tests" / "fixtures" / "catalog"
USER_CATALOG = REPO_ROOT / "checks"
