"""Running a check on this machine, as its Lambda would: `python -m infra run` and the demo.

Checker kinds go through their real handler (with the event the schedule would carry); the
metrics lines it prints are captured instead of going to CloudWatch Logs, and read back as the
datapoints CloudWatch would store. Lambda-free kinds have no handler: their values are read from
the AWS resources themselves.

Secrets: the schedule's event names Secrets Manager ids, which a workstation may not reach. A
secret can be served locally instead, by its catalog name, from (first found wins)

  VIGIL_SECRET_<NAME>   an environment variable holding the secret's JSON object
                        (NAME: the catalog name upper-cased, every other character as _)
  .vigil-secrets.yaml   or .vigil-secrets.json in the current directory (or the file given),
                        a mapping of catalog name → the secret's object; both names are in
                        .gitignore

and anything not served locally still comes from Secrets Manager. Values are never printed:
errors about them name the secret, the variable or the file and line, never what is in them.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from infra.catalog import Catalog, secret_ids, secret_refs
from infra.kinds import KINDS
from infra.signal_alarms import Series
from vigil import secrets
from vigil.checkers.runner import make_event
from vigil.spec.common import CheckBase

ENV_PREFIX = "VIGIL_SECRET_"
SECRETS_FILES = (".vigil-secrets.yaml", ".vigil-secrets.json")


@dataclass(frozen=True)
class LocalRun:
    result: dict[str, Any]  # the handler's CheckResult, as JSON
    emf_lines: list[str]  # the Embedded Metric Format lines it printed

    def datapoints(self) -> dict[Series, list[float]]:
        """Every value the run wrote, by series (what CloudWatch Logs would turn the lines into)."""
        found: dict[Series, list[float]] = {}
        for line in self.emf_lines:
            document = json.loads(line)
            for directive in document["_aws"]["CloudWatchMetrics"]:
                dimensions = frozenset((name, str(document[name])) for name in directive["Dimensions"][0])
                for metric in directive["Metrics"]:
                    value = document.get(metric["Name"])
                    values = value if isinstance(value, list) else [value]
                    found.setdefault((metric["Name"], dimensions), []).extend(float(v) for v in values)
        return found


class LocalSecretsError(Exception):
    """A local secret source is unreadable; the message names the source, never a value."""


@dataclass(frozen=True)
class LocalSecrets:
    """Catalog secret name → its object, and where each came from (for saying so, not the value)."""

    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)


def env_name(secret: str) -> str:
    return ENV_PREFIX + re.sub(r"[^A-Z0-9]", "_", secret.upper())


def local_secrets(
    names: Iterable[str], file: Path | None = None, environ: Mapping[str, str] = os.environ
) -> LocalSecrets:
    """The named secrets found in the environment or the secrets file (default: SECRETS_FILES here)."""
    wanted = sorted(set(names))
    found = LocalSecrets()
    from_file: dict[str, Any] | None = None
    path = file if file is not None else next((Path(n) for n in SECRETS_FILES if Path(n).is_file()), None)
    for name in wanted:
        variable = env_name(name)
        if variable in environ:
            found.values[name] = _object(environ[variable], f"environment variable {variable}")
            found.origins[name] = f"environment variable {variable}"
            continue
        if path is None:
            continue
        if from_file is None:
            from_file = read_secrets_file(path)
        if name in from_file:
            value = from_file[name]
            if not isinstance(value, dict):
                raise LocalSecretsError(f"{path}: {name} must be a mapping (the secret's JSON object)")
            found.values[name] = value
            found.origins[name] = str(path)
    return found


def read_secrets_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise LocalSecretsError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise LocalSecretsError(f"{path}: not valid JSON (line {exc.lineno})") from None
    except yaml.YAMLError as exc:
        # PyYAML's message quotes the offending line: that may be a password. Only where it is:
        # the start of what broke (an unclosed quote's line) when PyYAML knows it.
        mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise LocalSecretsError(f"{path}: not valid YAML{where}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise LocalSecretsError(f"{path}: must be a mapping of secret name to the secret's object")
    return document


def _object(text: str, where: str) -> dict[str, Any]:
    try:
        return secrets.json_object(text, where)
    except secrets.SecretError as exc:
        raise LocalSecretsError(str(exc)) from None


def secrets_of(check: CheckBase) -> list[str]:
    """The catalog names of the secrets a check reads."""
    return sorted(set(secret_refs(check).values()))


def run_checker(check: CheckBase, catalog: Catalog, local: LocalSecrets | None = None) -> LocalRun:
    handler = KINDS[check.kind].checker().handler
    ids = secret_ids(check, catalog)
    served = {ids[name]: value for name, value in (local.values if local else {}).items() if name in ids}
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout), secrets.served_locally(served.get):
        result = handler(make_event(check, ids), None)
    return LocalRun(result, [line for line in stdout.getvalue().splitlines() if '"_aws"' in line])


def visible_messages(sqs: Any, queue_url: str) -> float:
    """What SQS's ApproximateNumberOfMessagesVisible metric reports, read from the queue itself."""
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    return float(attributes["Attributes"]["ApproximateNumberOfMessages"])
