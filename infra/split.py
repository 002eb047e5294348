"""Which stack a check lives in: its service file's, named for the file and nothing else.

Never by counts or hashes: a check moves stacks only when it moves files, so a growing catalog
never shuffles existing alarms between stacks. CDK-free (validate's estimate uses it too).
"""

from __future__ import annotations

from pathlib import Path

from infra.catalog import Catalog
from vigil.spec.common import CheckBase


def stack_id(root: Path, file: str) -> str:
    """`checks/payments.yaml` → `payments`; a file in a subdirectory keeps its path, dashed."""
    relative = Path(file).resolve().relative_to(root.resolve()).with_suffix("")
    return "-".join(relative.parts)


def by_service_file(catalog: Catalog) -> dict[str, list[CheckBase]]:
    """Each service file's stack id → its checks, by id: sorted, so the build order is the catalog's own."""
    grouped: dict[str, list[CheckBase]] = {}
    for check in sorted(catalog.checks, key=lambda c: c.id):
        file = catalog.files.get(check.id)
        # A catalog built in code (tests) has no files: its service names stand in for them.
        grouped.setdefault(stack_id(catalog.root, file) if file else check.service, []).append(check)
    return dict(sorted(grouped.items()))
