"""What catalog errors say: every pattern explained in words, never a regex; never a secret's value.

The mutations break a copy of tests/fixtures/validation/catalog, which holds every kind.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.__main__ import main
from infra.catalog import ServiceFile, is_secret_name, is_secret_ref
from infra.kinds import KINDS
from infra.settings import Settings
from tests.support.catalogs import VALIDATION_CATALOG
from tests.support.catalogs import problem_lines as problems
from vigil.spec.common import PATTERN_WORDS

GOOD = VALIDATION_CATALOG
DELETE = object()
SECRET = "hunter2"


def mutated(tmp_path: Path, file: str, check: str | None, changes: dict[str, Any]) -> Path:
    """A copy of the good catalog with `changes` (dotted path → value, or DELETE) applied to one entry."""
    root = tmp_path / "catalog"
    if not root.exists():
        shutil.copytree(GOOD, root)
    data = yaml.safe_load((root / file).read_text())
    target = data if check is None else next(c for c in data["checks"] if c["id"] == check)
    for dotted, value in changes.items():
        *parents, last = [int(p) if p.isdigit() else p for p in dotted.split(".")]
        node = target
        for part in parents:
            node = node[part]
        if value is DELETE:
            del node[last]
        else:
            node[last] = value
    (root / file).write_text(yaml.safe_dump(data, sort_keys=False))
    return root


def schemas() -> list[dict[str, Any]]:
    """The JSON Schemas of every kind, the settings and the service file ($defs hold the nested models)."""
    return [
        *(kind.model.model_json_schema() for kind in KINDS.values()),
        Settings.model_json_schema(),
        ServiceFile.model_json_schema(),
    ]


def collect(node: Any, key: str) -> list[Any]:
    """Every value under `key` anywhere in a JSON Schema."""
    if isinstance(node, list):
        return [found for item in node for found in collect(item, key)]
    if not isinstance(node, dict):
        return []
    own = [node[key]] if key in node else []
    return own + [found for value in node.values() for found in collect(value, key)]


def schema_patterns() -> set[str]:
    return {p for p in collect(schemas(), "pattern") if isinstance(p, str)}


# One bad value for each pattern-constrained field: (file, check id, changes).
SHOP, DATA, RUNTIME, SETTINGS = "shop.yaml", "data.yaml", "runtime.yaml", "_settings.yaml"
FRESHNESS = {"query": DELETE, "alarms": DELETE}
BAD_VALUES = {
    "id": (SHOP, "shop-api", {"id": "Shop API"}),
    "cadence": (SHOP, "shop-api", {"cadence": "5 minutes"}),
    "http-url": (SHOP, "shop-api", {"url": "ftp://files.example.com/health"}),
    "runbook": (SHOP, "shop-api", {"runbook": "wiki page"}),
    "base-url": (SHOP, "shop-broker", {"url": "http://rabbit:15672/?vhost=shop"}),
    "vpc-id": (SHOP, "shop-broker", {"vpc.vpc_id": "vpc-XYZ"}),
    "subnet-id": (SHOP, "shop-broker", {"vpc.subnet_ids.0": "subnet-1"}),
    "security-group-id": (SHOP, "shop-broker", {"vpc.security_group_ids.0": "sg-1"}),
    "rabbitmq-queue": (SHOP, "shop-broker", {"queues.0": "shop events"}),
    "sqs-queue": (SHOP, "shop-orders", {"queue": "shop orders"}),
    "sqs-prefix": (SHOP, "shop-orders", {"queue": DELETE, "dlq": DELETE, "queue_prefix": "shop orders"}),
    "sqs-dlq-suffix": (SHOP, "shop-orders", {"queue": DELETE, "dlq": DELETE, "queue_prefix": "s", "dlq_suffix": "d q"}),
    "amazonmq-broker": (SHOP, "shop-mq", {"broker": "b-1234.mq"}),
    "log-group": (SHOP, "shop-logs", {"log_group": "shop api"}),
    "pattern-explain": (SHOP, "shop-logs", {"patterns.0.explain": "two\nlines"}),
    "value-field": (SHOP, "shop-errors", {"value_field": "error count"}),
    "es-index": (SHOP, "shop-search", {"index": "-logs"}),
    "es-field": (SHOP, "shop-search", {"time_field": "-ts"}),
    "rds-instance": (DATA, "shop-db", {"instance": "1db"}),
    "sql-table": (DATA, "shop-db-jobs", {**FRESHNESS, "freshness": {"table": "a b", "column": "t", "max_age": "1h"}}),
    "sql-column": (DATA, "shop-db-jobs", {**FRESHNESS, "freshness": {"table": "t", "column": "a b", "max_age": "1h"}}),
    "column": (DATA, "shop-copy", {"key.column": "order id"}),
    "sql-endpoint-table": (DATA, "shop-copy", {"source": {"type": "sql", "engine": "mysql", "table": "a.b.c"}}),
    "dynamodb-table": (DATA, "shop-copy", {"target": {"type": "dynamodb", "table": "ab"}}),
    "s3-bucket": (DATA, "shop-copy", {"target.bucket": "Shop_Exports"}),
    "search-index": (
        DATA,
        "shop-copy",
        {"target": {"type": "search", "url": "https://search.example.com", "index": "Orders"}},
    ),
    "ecs-name": (RUNTIME, "shop-api-service", {"cluster": "shop cluster"}),
    "tag-key": (RUNTIME, "shop-services", {"selector.tags": {"shop tier!": "web"}}),
    "tag-value": (RUNTIME, "shop-services", {"selector.tags.shop:tier": "web!"}),
    "alb-load-balancer": (RUNTIME, "shop-lb", {"load_balancer": "shop-public"}),
    "alb-target-group": (RUNTIME, "shop-lb", {"target_group": "shop-api"}),
    "lambda-function": (RUNTIME, "shop-sender", {"function": "shop sender"}),
    "dynamodb-kind-table": (RUNTIME, "shop-carts", {"table": "ab"}),
    "dynamodb-region": (RUNTIME, "shop-carts", {"replica_regions.0": "Europe"}),
    "ec2-instance": (RUNTIME, "shop-mq-host", {"instance": "i-123"}),
    "metric-namespace": (RUNTIME, "shop-orders-rate", {"metric.namespace": ":Shop"}),
    "metric-id": (RUNTIME, "shop-bounce-rate", {"metrics": {"Bounced": {"namespace": "Shop", "name": "Bounced"}}}),
    "heartbeat-token-secret": (RUNTIME, "shop-nightly-export", {"token_secret_name": "prod/shop-token"}),
    "email": (SETTINGS, None, {"contacts.oncall.email": "oncall"}),
    "sms": (SETTINGS, None, {"contacts.oncall.sms": "07700 900123"}),
    "secret-ref": (SETTINGS, None, {"secrets.api-headers": "vigil/shop headers"}),
}


@pytest.mark.parametrize("case", BAD_VALUES)
def test_a_pattern_error_says_in_words_what_is_allowed(tmp_path, case):
    file, check, changes = BAD_VALUES[case]
    found = problems(mutated(tmp_path, file, check, changes))
    worded = [line for line in found if any(f"allowed: {words}" in line for words in PATTERN_WORDS.values())]
    assert worded, found
    for line in found:
        assert not any(pattern in line for pattern in PATTERN_WORDS), f"a regex in: {line}"
        assert "should match pattern" not in line and "text matching" not in line, line


def test_every_pattern_of_every_model_is_worded_and_has_a_bad_value_case(tmp_path):
    """A new pattern-constrained field fails here until its rule has words and a case above."""
    patterns = schema_patterns()
    assert len(patterns) >= 20, "the walk must find the models' patterns"
    assert patterns <= set(PATTERN_WORDS), f"patterns without words: {patterns - set(PATTERN_WORDS)}"
    covered: set[str] = set()
    for case, (file, check, changes) in BAD_VALUES.items():
        text = "\n".join(problems(mutated(tmp_path / case, file, check, changes)))
        covered |= {pattern for pattern, words in PATTERN_WORDS.items() if f"allowed: {words}" in text}
    assert patterns <= covered, f"no bad-value case for: {[PATTERN_WORDS[p] for p in patterns - covered]}"


# Every field that names a secret, and values a hurried engineer might paste into it.
SECRET_FIELDS = [
    (SHOP, "shop-api", "headers_secret"),
    (SHOP, "shop-broker", "credentials_secret"),
    (SHOP, "shop-search", "auth_secret"),
    (DATA, "shop-db-jobs", "secret"),
    (DATA, "shop-copy", "source_secret"),
    (RUNTIME, "shop-nightly-export", "token_secret_name"),
    (SETTINGS, None, "secrets.db-readonly"),
]
PASTED = {"slug": SECRET, "punctuation": f"{SECRET}!", "pair": f"user:{SECRET}", "number": 4711}
PASTED |= {"mapping": {"password": SECRET}, "list": [SECRET]}
# A password that looks like a secret name is a valid name under secrets: nothing can tell them apart.
PASTE_CASES = [
    (*where, value, f"{where[2]}-{name}")
    for where in SECRET_FIELDS
    for name, value in PASTED.items()
    if not (where[0] == SETTINGS and name == "slug")
]


@pytest.mark.parametrize(
    ("file", "check", "field", "value"), [c[:4] for c in PASTE_CASES], ids=[c[4] for c in PASTE_CASES]
)
def test_a_secret_field_never_echoes_what_it_holds(tmp_path, file, check, field, value):
    found = problems(mutated(tmp_path, file, check, {field: value}))
    (line,) = [line for line in found if f": {field}: " in line]
    assert SECRET not in line and "4711" not in line, line
    assert "not shown" in line, line
    if field.startswith("secrets."):
        assert "a Secrets Manager secret name" in line or "valid string" in line, line
    elif field.endswith("_secret_name"):  # a Secrets Manager name itself (heartbeat's token)
        assert "a Secrets Manager secret name under vigil/heartbeat/" in line or "valid string" in line, line
    else:
        assert "under secrets in _settings.yaml" in line, line


def test_unknown_secret_names_the_declared_ones_but_not_the_value(tmp_path):
    (line,) = problems(mutated(tmp_path, SHOP, "shop-api", {"headers_secret": SECRET}))
    assert "check shop-api: headers_secret: unknown secret" in line
    assert "declared: api-headers, broker-login, db-readonly, search-login, chat-webhook" in line and SECRET not in line


@pytest.mark.parametrize("value", list(PASTED.values()), ids=list(PASTED))
def test_an_outputs_secret_field_never_echoes_what_it_holds(tmp_path, value):
    found = problems(mutated(tmp_path, SETTINGS, None, {"routes.warning.outputs.0.credentials_secret": value}))
    (line,) = [line for line in found if ".credentials_secret: " in line]
    assert line.startswith(f"{tmp_path / 'catalog' / SETTINGS}:"), line
    assert SECRET not in line and "4711" not in line, line
    assert "not shown" in line, line


URL_FIELDS = [
    (SHOP, "shop-api", "url", "https://admin:{}@api.shop.example.com/health"),
    (SHOP, "shop-api", "runbook", "https://admin:{}@wiki.example.com/runbooks/shop"),
    (SHOP, "shop-broker", "url", "http://monitor:{}@rabbit.shop.internal:15672"),
    (SHOP, "shop-search", "url", "https://elastic:{}@search.shop.internal:9200"),
    (DATA, "shop-copy", "target", {"type": "search", "url": "https://e:{}@search.example.com", "index": "orders"}),
]


@pytest.mark.parametrize(("file", "check", "field", "url"), URL_FIELDS, ids=[f"{f[1]}-{f[2]}" for f in URL_FIELDS])
def test_a_url_with_credentials_is_refused_without_showing_them(tmp_path, file, check, field, url):
    value = {**url, "url": url["url"].format(SECRET)} if isinstance(url, dict) else url.format(SECRET)
    (line,) = problems(mutated(tmp_path, file, check, {field: value}))
    assert "remove the user:password@ part" in line and "://***@" in line, line
    assert SECRET not in line and "admin" not in line, line


def test_a_malformed_url_is_shown_without_its_credentials_or_query(tmp_path):
    bad = f"https://admin:{SECRET}@api shop.example.com/health?token={SECRET}"
    (line,) = problems(mutated(tmp_path, SHOP, "shop-api", {"url": bad}))
    assert "found 'https://***@api shop.example.com/health?***'" in line and SECRET not in line, line


def test_validate_output_never_holds_a_pasted_secret(tmp_path, capsys):
    """Everything at once, through the command CI runs: the log must not hold the password."""
    for file, check, field in SECRET_FIELDS:
        mutated(tmp_path, file, check, {field: f"{SECRET}!"})
    root = mutated(tmp_path, SHOP, "shop-api", {"url": f"https://admin:{SECRET}@api.shop.example.com/"})
    assert main(["validate", str(root)]) == 1
    out = capsys.readouterr().out
    assert out.count("error: ") >= len(SECRET_FIELDS) + 1
    assert SECRET not in out


def free_text(schema: dict[str, Any]) -> bool:
    """Whether a field's schema admits any text: a secret could be pasted there (not a flag or a choice)."""
    if "enum" in schema or "const" in schema:
        return False
    options = schema.get("anyOf", [schema])
    return any(o.get("type") == "string" and "enum" not in o and "const" not in o for o in options) or any(
        "$ref" in o for o in options
    )


def test_no_field_holds_a_secret_value_only_references():
    """Passwords, tokens, headers and connection strings live in Secrets Manager; the catalog names them."""
    fields = [(name, schema) for properties in collect(schemas(), "properties") for name, schema in properties.items()]
    names = {name for name, _ in fields}
    assert {"url", "headers_secret", "freshness", "vpc_id", "bucket"} <= names, "the walk must reach nested models"
    assert {"allow_private", "auth"} <= names, "the flags and choices the rule passes over are there"
    secretish = re.compile(r"pass|token|api_?key|header|auth|credential|cookie|dsn|connection|login|private")
    offending = sorted(
        {
            name
            for name, schema in fields
            if secretish.search(name)
            and free_text(schema)
            and not (is_secret_ref(name) or is_secret_name(name) or name == "secrets")
        }
    )
    assert offending == [], f"fields that could hold a secret value: {offending}"
