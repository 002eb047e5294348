"""Shared test setup: fake AWS credentials, so nothing here can ever reach a real AWS account, and
the guard that fails any product test reading the user's catalog (tests/support/catalog_guard.py).
"""

from __future__ import annotations

import os

import infra  # noqa: F401  (first: it silences jsii's Node banners before any test imports aws_cdk)

pytest_plugins = ["tests.support.catalog_guard"]

# Set before boto3 is imported anywhere: moto intercepts these, and a forgotten mock fails
# loudly with invalid credentials instead of touching a real account.
for _name, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}.items():
    os.environ[_name] = _value
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)


def pytest_sessionfinish(session, exitstatus):  # type: ignore[no-untyped-def]
    """In CI a skipped test is a failure: a missing service or tool must not pass as green."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if os.environ.get("CI") == "true" and skipped and exitstatus == 0:
        reporter.write_line(f"CI: {skipped} test(s) skipped; in CI every test must run (start the services)", red=True)
        session.exitstatus = 1
