"""Which targets an http check may call (vigil.private_targets), and what the catalog refuses before
anything runs: loopback and link-local URLs, private ones outside a VPC, credentials in the URL or
over plain http://, each unless the check sets allow_private."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tests.unit.test_catalog import problems, write_catalog
from vigil.private_targets import host_refusal, refusal
from vigil.spec.http import HttpCheck

VPC = {
    "vpc_id": "vpc-0123456789abcdef0",
    "subnet_ids": ["subnet-0123456789abcdef0"],
    "security_group_ids": ["sg-0123456789abcdef0"],
}


@pytest.mark.parametrize(
    ("address", "words"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("169.254.169.253", "link-local"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("fd00:ec2::254", "instance metadata"),
        ("::ffff:169.254.169.254", "link-local"),
        ("64:ff9b::a9fe:a9fe", "link-local"),  # 169.254.169.254 through NAT64
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
    ],
)
def test_refused_even_from_a_vpc(address: str, words: str) -> None:
    for in_vpc in (False, True):
        assert words in (refusal(address, allow_private=False, in_vpc=in_vpc) or "")
    assert refusal(address, allow_private=True, in_vpc=False) is None


@pytest.mark.parametrize("address", ["10.0.0.5", "172.16.3.4", "192.168.1.1", "100.64.0.1", "fd12:3456::1"])
def test_private_addresses_need_a_vpc(address: str) -> None:
    assert "private address" in (refusal(address, allow_private=False, in_vpc=False) or "")
    assert refusal(address, allow_private=False, in_vpc=True) is None
    assert refusal(address, allow_private=True, in_vpc=False) is None


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700::6810:85e5", "::ffff:93.184.216.34"])
def test_public_addresses_are_fine(address: str) -> None:
    assert refusal(address, allow_private=False, in_vpc=False) is None


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST.", "api.localhost", "[::1]", "127.0.0.1"])
def test_names_that_always_mean_this_host(host: str) -> None:
    assert host_refusal(host, allow_private=False, in_vpc=True)
    assert host_refusal(host, allow_private=True, in_vpc=False) is None


def test_other_names_wait_for_the_checker_to_resolve_them() -> None:
    assert host_refusal("metadata.example.com", allow_private=False, in_vpc=False) is None


def http_check(url: str, **fields: Any) -> HttpCheck:
    return HttpCheck.model_validate(
        {"id": "api-health", "kind": "http", "service": "api", "severity": "critical", "url": url, **fields}
    )


@pytest.mark.parametrize(
    ("url", "fields", "words"),
    [
        ("http://169.254.169.254/latest/meta-data/", {}, "link-local"),
        ("http://127.0.0.1:8080/health", {}, "loopback"),
        ("http://localhost:8080/health", {}, "loopback"),
        ("http://[::1]/health", {}, "loopback"),
        ("http://10.0.0.5/health", {}, "private address"),
        ("http://169.254.169.254/", {"vpc": VPC}, "link-local"),
        ("http://api.example.com/health", {"headers_secret": "api-headers"}, "plain http://"),
        ("https://ops:hunter2@api.example.com/health", {}, "remove the user:password@ part"),
        ("https://ops:hunter2@api.example.com/health", {"allow_private": True}, "remove the user:password@ part"),
    ],
)
def test_the_catalog_refuses(url: str, fields: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        http_check(url, **fields)
    # The rule's own words; pydantic's input_value is never printed (infra/catalog.py masks the URL).
    message = " ".join(error["msg"] for error in caught.value.errors())
    assert words in message
    assert "hunter2" not in message


@pytest.mark.parametrize(
    ("url", "fields"),
    [
        ("http://127.0.0.1:8080/health", {"allow_private": True}),
        ("http://api.example.com/health", {"headers_secret": "api-headers", "allow_private": True}),
        ("https://api.example.com/health", {"headers_secret": "api-headers"}),
        ("http://10.0.0.5/health", {"vpc": VPC}),
        ("http://api.example.com/health", {}),
    ],
)
def test_the_catalog_accepts(url: str, fields: dict[str, Any]) -> None:
    assert http_check(url, **fields).url == url


def test_a_refused_url_is_one_clear_line_without_the_password(tmp_path: Path) -> None:
    check = {"id": "api-health", "kind": "http", "severity": "critical", "url": "https://ops:hunter2@api.example.com/"}
    (line,) = problems(write_catalog(tmp_path, [check]))

    assert line.endswith(
        "api.yaml:5: check api-health: url: remove the user:password@ part: a URL is kept in the catalog, the "
        "template and the notifications, so credentials go in a Secrets Manager secret named by the kind's "
        "*_secret field (headers_secret for http) (found 'https://***@api.example.com/')"
    ), line
    assert "hunter2" not in line


def test_credentials_over_plain_http_name_the_way_out(tmp_path: Path) -> None:
    check = {
        "id": "api-health",
        "kind": "http",
        "severity": "critical",
        "url": "http://api.example.com/health",
        "headers_secret": "api-headers",
    }
    (line,) = problems(write_catalog(tmp_path, [check]))

    assert "api.yaml:6: check api-health: url: plain http:// would send the headers" in line
    assert "use https://" in line
