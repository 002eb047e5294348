"""The guard that keeps product tests off the user's catalog (checks/): any test that reads it fails.

An audit hook (sys.addaudithook) sees every file open and directory listing in this process, so
a catalog loaded from the repository's checks/, a CLI command run with its default catalog, or a
glob over the directory are all caught, however the path was spelled. No test is exempt: the
user's catalog meets `make test` only in the Makefile (check-catalog). Subprocesses are beyond an
audit hook: test_catalog_guard scans the test sources for the path as well.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.catalogs import REPO_ROOT, USER_CATALOG

_EVENTS = {"open", "os.scandir", "os.listdir"}


class DirectoryReads:
    """Records, while watching, every path under one directory that this process opens or lists."""

    def __init__(self, directory: Path) -> None:
        self.directory = os.path.abspath(directory)
        self.paths: list[str] = []
        self.watching = False
        sys.addaudithook(self._audit)

    def _audit(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.watching or event not in _EVENTS or not args or not isinstance(args[0], str | bytes | Path):
            return
        # os.open (mode None) names its path relative to a dir_fd the event does not carry: that is
        # how shutil.rmtree walks a tree, so a temporary catalog named "checks" would look like ours.
        # Reading a catalog goes through open() and os.scandir, which both give the path as used.
        if event == "open" and args[1] is None:
            return
        path = os.path.abspath(os.fsdecode(args[0]))
        if path == self.directory or path.startswith(self.directory + os.sep):
            self.paths.append(path)

    @contextmanager
    def watch(self) -> Iterator[list[str]]:
        """The paths read inside the block (a fresh list each time)."""
        self.paths, self.watching = [], True
        try:
            yield self.paths
        finally:
            self.watching = False


USER_CATALOG_READS = DirectoryReads(USER_CATALOG)


def describe(paths: list[str]) -> str:
    shown = sorted({os.path.relpath(p, REPO_ROOT) for p in paths})
    return (
        f"read the user's catalog ({', '.join(shown[:3])}{' ...' if len(shown) > 3 else ''}): product tests use a "
        "fixture catalog under tests/fixtures/ (tests.support.catalogs.FIXTURE_CATALOG); checks/ is the user's and "
        "may change at any time"
    )


@pytest.fixture(autouse=True)
def no_user_catalog_reads(request: pytest.FixtureRequest) -> Iterator[None]:
    with USER_CATALOG_READS.watch() as paths:
        yield
    if paths:
        pytest.fail(f"{request.node.nodeid} {describe(paths)}", pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[pytest.CollectReport]:
    """Module-level reads (a catalog loaded at import) happen while collecting, outside any test."""
    with USER_CATALOG_READS.watch() as paths:
        report = yield
    if paths:
        report.outcome = "failed"
        report.longrepr = f"{report.nodeid} {describe(paths)}"
    return report
