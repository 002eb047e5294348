"""How big vigil's checker functions are, and how hard a catalog drives them.

One table, read by infra.checks when it builds a checker function and by infra.plan when it prices a
run, so the bill and the template never disagree about memory. No CDK here: `plan` starts without it.

Load, per checker function (kind × VPC placement), with the schedules spread over their cadence
(infra.jitter) so runs arrive evenly rather than all at once:

    invocations per second   = Σ 1 / cadence                    over the function's checks
    typical concurrency      = Σ typical run duration / cadence  what it usually holds
    worst concurrency        = Σ function timeout / cadence      every run takes its whole timeout

Each checker function reserves the smaller of its worst concurrency and HEADROOM × its typical one.
Reserved concurrency is both a cap and a guarantee: vigil can never hold more of the account's pool
than that (production Lambdas keep the rest), and production can never starve vigil of it. Runs are
invoked asynchronously, so a run throttled at the cap (a mass timeout) waits in Lambda's queue and is
retried until it is one cadence old; only then does it fail (checker failure queue, self-monitoring).
The reservations come out of the account's pool, which must keep ACCOUNT_UNRESERVED_MINIMUM
unreserved: docs/operations.md shows the sum at 10,000 checks against the default quota.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from infra.placement import PUBLIC, placement_key, placement_of
from vigil.spec.common import CheckBase

# Most checkers wait on the network; 256 MB keeps a cold start with boto3 and pydantic under a second.
DEFAULT_MEMORY_MB = 256
CHECKER_MEMORY_MB: dict[str, int] = {
    # One request and a small JSON body: the smallest size is enough, and a 1-minute check runs 43,800
    # times a month, so memory is most of its compute bill.
    "http": 128,
    # Hashing rows read from DynamoDB, S3 or an index is CPU-bound: a full vCPU, not a seventh.
    "consistency": 1769,
}
# Typical checker run, seconds: an HTTP probe is mostly waiting on the network.
TYPICAL_DURATION_S: dict[str, float] = {
    "http": 0.5,
    # A comparison reads both sides' hashes of many rows: about a minute for a mid-sized table.
    "consistency": 60.0,
}
DEFAULT_DURATION_S = 1.0
# Reserved concurrency, as a multiple of a checker's typical use, when that is below its worst case:
# room for slow targets without holding the account's pool for a mass timeout (those runs wait in
# Lambda's async queue instead, up to one cadence).
HEADROOM = 3
# Reservations go up in steps: at least 5, so checks whose schedules fire in the same minute run
# side by side even in a small catalog, and coarse, so adding a check to a service file rarely
# changes the core stack's function (issue 11: a new check should change only its service stack).
RESERVATION_STEPS = (5, 10, 20, 50, 100, 200, 500, 1000)
# Lambda keeps at least this much of the account's concurrency unreserved; a deploy that would leave
# less fails. Figures above it are reported (plan, docs/operations.md), never silently capped.
ACCOUNT_UNRESERVED_MINIMUM = 100


# Room between the slowest check's own timeout and the function's: secret fetch, cold start, EMF.
TIMEOUT_MARGIN = 10
# The function must finish before the next run of the fastest check starts.
CADENCE_MARGIN = 5


def checker_memory_mb(kind: str) -> int:
    return CHECKER_MEMORY_MB.get(kind, DEFAULT_MEMORY_MB)


def typical_duration_s(kind: str) -> float:
    return TYPICAL_DURATION_S.get(kind, DEFAULT_DURATION_S)


def checker_timeout(checks: list[CheckBase]) -> int:
    """Seconds: at least the slowest check's timeout plus margin, and shorter than the fastest cadence."""
    slowest = max((math.ceil(float(getattr(c, "timeout", 0))) for c in checks), default=0)
    fastest = min(c.cadence for c in checks)
    timeout = min(slowest + TIMEOUT_MARGIN, fastest - CADENCE_MARGIN)
    if timeout <= slowest:
        ids = ", ".join(c.id for c in checks)
        raise ValueError(
            f"checks {ids}: a {slowest}s check timeout leaves no room in a {fastest}s cadence; "
            "lower the timeout or lengthen the cadence"
        )
    return timeout


def checker_groups(checks: Iterable[CheckBase]) -> dict[tuple[str, str], list[CheckBase]]:
    """The checks each checker function runs, by (kind, placement key): one function per key."""
    groups: dict[tuple[str, str], list[CheckBase]] = {}
    for check in checks:
        # has_checker: an sqs check with a queue or a list is Lambda-free.
        if check.has_checker:
            groups.setdefault((check.kind, placement_key(placement_of(check))), []).append(check)
    return groups


def worst_concurrency(checks: Iterable[CheckBase], function_timeout_s: float) -> int:
    """Every run of every check takes the function's whole timeout."""
    return max(1, math.ceil(sum(function_timeout_s / c.cadence for c in checks) - 1e-9))


def reserved_concurrency(checks: list[CheckBase], function_timeout_s: float) -> int:
    """What a checker function reserves: its worst case, or HEADROOM × its typical use when that is less,
    rounded up to the next step of RESERVATION_STEPS."""
    typical = sum(typical_duration_s(c.kind) / c.cadence for c in checks)
    need = min(worst_concurrency(checks, function_timeout_s), math.ceil(HEADROOM * typical - 1e-9))
    return reservation_step(need)


def reservation_step(need: int) -> int:
    """The smallest step at or above `need` (beyond the table: the next thousand)."""
    for step in RESERVATION_STEPS:
        if need <= step:
            return step
    return math.ceil(need / 1000) * 1000


@dataclass(frozen=True)
class Load:
    """What one checker kind (or a whole catalog) asks of Lambda."""

    name: str
    checks: int
    invocations_per_second: float
    typical_concurrency: float
    worst_concurrency: int
    reserved: int

    def __add__(self, other: Load) -> Load:
        return Load(
            "total",
            self.checks + other.checks,
            self.invocations_per_second + other.invocations_per_second,
            self.typical_concurrency + other.typical_concurrency,
            self.worst_concurrency + other.worst_concurrency,
            self.reserved + other.reserved,
        )


def function_load(name: str, checks: list[CheckBase]) -> Load:
    """The load of one checker function: its checks, each run up to the function's timeout."""
    return Load(
        name=name,
        checks=len(checks),
        invocations_per_second=sum(1 / c.cadence for c in checks),
        typical_concurrency=sum(typical_duration_s(c.kind) / c.cadence for c in checks),
        worst_concurrency=worst_concurrency(checks, checker_timeout(checks)),
        reserved=reserved_concurrency(checks, checker_timeout(checks)),
    )


def catalog_load(checks: Iterable[CheckBase]) -> list[Load]:
    """Per checker function (`kind` or `kind@placement`), sorted; sum them for the catalog's total."""
    return [
        function_load(kind if key == PUBLIC else f"{kind}@{key}", peers)
        for (kind, key), peers in sorted(checker_groups(checks).items())
    ]


def scaled(checks: list[CheckBase], n: int) -> list[CheckBase]:
    """The catalog's mix repeated to `n` checks (ids suffixed): a large catalog on paper."""
    return [checks[i % len(checks)].model_copy(update={"id": f"{checks[i % len(checks)].id}-{i}"}) for i in range(n)]
