"""Secrets are granted by the vigil/ prefix; validate caps the exceptions and keeps job tokens apart."""

from __future__ import annotations

import copy

from infra.catalog import load_catalog
from infra.secret_convention import MAX_EXPLICIT_SECRETS, by_prefix, explicit
from tests.support.catalogs import SETTINGS, has_problem, problem_lines, write_catalog

HTTP = {"id": "api-health", "kind": "http", "severity": "critical", "url": "https://api.example.com/health"}


def with_secrets(secrets: dict[str, str]) -> dict:
    settings = copy.deepcopy(SETTINGS)
    settings["secrets"] = secrets
    return settings


def test_names_under_the_prefix_are_covered_arns_and_others_are_not():
    assert by_prefix("vigil/campaign-api/probe-headers")
    assert not by_prefix("arn:aws:secretsmanager:eu-west-1:123456789012:secret:vigil/x")  # maybe another account
    assert not by_prefix("prod/db")
    assert not by_prefix("vigil/heartbeat/nightly")  # job tokens: denied to checkers
    assert explicit(["vigil/a", "prod/db", "prod/db", "other"]) == ["other", "prod/db"]


def test_a_few_exceptions_are_allowed(tmp_path):
    secrets = {f"legacy-{i}": f"legacy/{i}" for i in range(MAX_EXPLICIT_SECRETS)}
    write_catalog(tmp_path, [HTTP], with_secrets({**secrets, "ok": "vigil/api/token"}))
    assert load_catalog(tmp_path).settings.secrets["ok"] == "vigil/api/token"


def test_too_many_exceptions_are_refused_naming_the_entries_not_the_values(tmp_path):
    secrets = {f"legacy-{i}": f"legacy/hunter2-{i}" for i in range(MAX_EXPLICIT_SECRETS + 1)}
    found = problem_lines(write_catalog(tmp_path, [HTTP], with_secrets(secrets)))
    assert has_problem(
        found,
        "_settings.yaml",
        "secrets",
        f"{MAX_EXPLICIT_SECRETS + 1} secrets are outside the vigil/ prefix (legacy-0, ",
        f"at most {MAX_EXPLICIT_SECRETS} may be granted one by one",
        "vigil/<service>/<name>",
    )
    assert not any("hunter2" in line for line in found)


def test_a_catalog_secret_among_job_tokens_is_refused(tmp_path):
    found = problem_lines(write_catalog(tmp_path, [HTTP], with_secrets({"sneaky": "vigil/heartbeat/nightly"})))
    assert has_problem(found, "_settings.yaml", "secrets.sneaky", "reserved for heartbeat job tokens")
