"""Tag selectors: resolving them from a recorded listing and from the Tagging API (moto), the stable ids
of what they find, their errors, and `plan --listing`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import yaml
from moto import mock_aws

from infra.__main__ import main
from infra.catalog import load_catalog
from infra.discovery import DiscoveryError, RecordedListing, TaggingApi, resolve, source_for
from infra.environments import load_environments
from tests.support.catalogs import write_catalog
from vigil.spec.alb import AlbCheck
from vigil.spec.ecs import EcsCheck
from vigil.spec.selector import TagSelector, target_id

ROOT = Path(__file__).resolve().parents[2]
LISTINGS = ROOT / "tests" / "fixtures" / "discovery"
THREE = LISTINGS / "listing-3-services.json"
FOUR = LISTINGS / "listing-4-services.json"
KINDS_CATALOG = ROOT / "tests" / "fixtures" / "kinds"
REGION = "eu-west-2"
TAGS = {"vigil:service": "campaign-api"}


def ecs_check(**fields: object) -> EcsCheck:
    return EcsCheck.model_validate(
        {"id": "campaign-services", "kind": "ecs", "service": "campaign-api", "severity": "critical"}
        | {"selector": {"tags": TAGS}}
        | fields
    )


def alb_check(**fields: object) -> AlbCheck:
    return AlbCheck.model_validate(
        {"id": "campaign-lbs", "kind": "alb", "service": "campaign-api", "severity": "warning"}
        | {"selector": {"tags": TAGS}}
        | fields
    )


def test_a_recorded_listing_selects_by_every_tag_and_by_resource_type():
    found = resolve([ecs_check(), alb_check()], RecordedListing(THREE))
    services = found["campaign-services"]
    # billing-api has another value; the cluster carrying the tag is not a service.
    assert [t.id for t in services] == [
        "campaign-services-prod-campaign-api",
        "campaign-services-prod-campaign-scheduler",
        "campaign-services-prod-campaign-worker",
    ]
    assert all(isinstance(t, EcsCheck) and t.cluster == "prod" and t.selector is None for t in services)
    assert [t.target_label for t in services] == [
        "prod/campaign-api",
        "prod/campaign-scheduler",
        "prod/campaign-worker",
    ]
    # The network load balancer and the target group carry the tag too: only the Application Load Balancer counts.
    (lb,) = found["campaign-lbs"]
    assert isinstance(lb, AlbCheck)
    assert (lb.id, lb.load_balancer_dimension) == (
        "campaign-lbs-campaign-public",
        "app/campaign-public/50dc6c4952c5a0c1",
    )
    # Both tags must match: the scheduler lacks team=campaigns.
    narrow = resolve([ecs_check(selector={"tags": {**TAGS, "team": "campaigns"}})], RecordedListing(THREE))
    assert [t.target_label for t in narrow["campaign-services"]] == ["prod/campaign-api", "prod/campaign-worker"]


def test_a_newly_tagged_service_adds_a_target_and_leaves_the_others_as_they_were():
    before = resolve([ecs_check()], RecordedListing(THREE))["campaign-services"]
    after = resolve([ecs_check()], RecordedListing(FOUR))["campaign-services"]
    assert [t.id for t in after] == sorted([*(t.id for t in before), "campaign-services-prod-campaign-reports"])
    by_id = {t.id: t for t in after}
    for target in before:
        assert by_id[target.id] == target  # same id, same fields, same rules


def test_target_ids_are_slugs_of_at_most_64_characters_and_stable():
    assert target_id("svc", "Prod/Campaign_API") == "svc-prod-campaign-api"
    long_a = target_id("campaign-services", "production-cluster-eu-west-2/campaign-notification-dispatcher-a")
    long_b = target_id("campaign-services", "production-cluster-eu-west-2/campaign-notification-dispatcher-b")
    assert len(long_a) == len(long_b) == 64 and long_a != long_b
    assert long_a == target_id("campaign-services", "production-cluster-eu-west-2/campaign-notification-dispatcher-a")
    assert long_a.startswith("campaign-services-production-cluster-eu-west-2-campaign-")


def test_two_resources_that_would_share_an_id_are_an_error(tmp_path):
    listing = {
        "ResourceTagMappingList": [
            {
                "ResourceARN": f"arn:aws:ecs:{REGION}:123456789012:service/prod/{name}",
                "Tags": [{"Key": "vigil:service", "Value": "campaign-api"}],
            }
            for name in ("Campaign_API", "campaign-api")
        ]
    }
    path = tmp_path / "listing.json"
    path.write_text(json.dumps(listing))
    with pytest.raises(
        DiscoveryError, match=r"check campaign-services: .*both get the id campaign-services-prod-campaign-api"
    ):
        resolve([ecs_check()], RecordedListing(path))


def test_a_selector_that_finds_nothing_is_an_error_naming_the_check_the_tags_and_the_source():
    with pytest.raises(DiscoveryError) as caught:
        resolve([ecs_check(selector={"tags": {"vigil:service": "gone"}})], RecordedListing(THREE))
    message = str(caught.value)
    assert "check campaign-services: selector vigil:service=gone found no ecs:service" in message
    assert str(THREE) in message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("not json", "not JSON"),
        ('{"Resources": []}', "not a GetResources response (ResourceTagMappingList: Field required)"),
        ('{"ResourceTagMappingList": [{"Tags": []}]}', "ResourceTagMappingList.0.ResourceARN"),
    ],
)
def test_a_bad_listing_file_is_a_clear_error(tmp_path, text, fragment):
    path = tmp_path / "listing.json"
    path.write_text(text)
    with pytest.raises(
        DiscoveryError, match="check campaign-services: selector vigil:service=campaign-api: "
    ) as caught:
        resolve([ecs_check()], RecordedListing(path))
    assert fragment in str(caught.value)
    with pytest.raises(DiscoveryError, match="cannot read the listing"):
        resolve([ecs_check()], RecordedListing(tmp_path / "missing.json"))


@mock_aws
def test_without_a_listing_the_tagging_api_is_asked_and_selects_alike():
    ecs = boto3.client("ecs", region_name=REGION)
    ecs.create_cluster(clusterName="prod")
    ecs.register_task_definition(family="t", containerDefinitions=[{"name": "c", "image": "x", "memory": 128}])
    for name, value in (("campaign-api", "campaign-api"), ("campaign-worker", "campaign-api"), ("billing", "billing")):
        ecs.create_service(
            cluster="prod",
            serviceName=name,
            taskDefinition="t",
            desiredCount=1,
            tags=[{"key": "vigil:service", "value": value}],
        )
    source = source_for(None, REGION)
    assert isinstance(source, TaggingApi)
    found = resolve([ecs_check()], source)
    assert [t.target_label for t in found["campaign-services"]] == ["prod/campaign-api", "prod/campaign-worker"]


def test_without_credentials_the_tagging_api_says_to_record_a_listing(monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(DiscoveryError, match=r"no AWS credentials or region at synth; give a recorded listing"):
        TaggingApi(REGION).find("ecs:service", TagSelector(tags=TAGS))


def test_environments_may_name_a_listing_relative_to_their_file(tmp_path):
    (tmp_path / "environments.yaml").write_text(yaml.safe_dump({"prod": {"catalog": "checks", "listing": "l.json"}}))
    assert load_environments(tmp_path / "environments.yaml")["prod"].listing == tmp_path / "l.json"


def test_plan_lists_what_each_selector_found_in_a_listing(capsys):
    assert main(["plan", str(KINDS_CATALOG), "--listing", str(THREE)]) == 0
    out = capsys.readouterr().out
    assert (
        "selector vigil:service=campaign-api: found 3: prod/campaign-api, prod/campaign-scheduler, "
        "prod/campaign-worker; figures count each"
    ) in out
    assert "found 1: campaign-public" in out

    assert main(["plan", str(KINDS_CATALOG), "--listing", str(THREE), "--json"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)["checks"]}
    assert rows["campaign-services"]["found"] == [
        "prod/campaign-api",
        "prod/campaign-scheduler",
        "prod/campaign-worker",
    ]
    assert rows["campaign-services"]["selector"] == "vigil:service=campaign-api"
    assert rows["campaign-api-service"]["found"] is None and rows["campaign-api-service"]["selector"] is None


def test_plan_counts_each_found_target_and_says_when_nothing_was_resolved(capsys):
    assert main(["plan", str(KINDS_CATALOG), "--json"]) == 0
    unresolved = {r["id"]: r for r in json.loads(capsys.readouterr().out)["checks"]}
    assert main(["plan", str(KINDS_CATALOG), "--json", "--listing", str(FOUR)]) == 0
    data = json.loads(capsys.readouterr().out)
    four = {r["id"]: r for r in data["checks"]}
    assert unresolved["campaign-services"]["found"] is None
    assert four["campaign-services"]["cost_usd_month"] == pytest.approx(
        4 * unresolved["campaign-services"]["cost_usd_month"], abs=1e-3
    )
    # 4 signals per found service; the unresolved plan counts one service.
    assert data["totals"]["alarms"] == sum(
        len(r["signals"]) * (len(r["found"]) if r["found"] is not None else 1) for r in data["checks"]
    )
    assert main(["plan", str(KINDS_CATALOG)]) == 0
    assert (
        "resolved at synth (give --listing to see what it finds); figures are for one resource"
        in capsys.readouterr().out
    )


def test_plan_with_a_listing_that_does_not_resolve_reports_it_without_a_traceback(tmp_path, capsys):
    check = {"id": "svc", "kind": "ecs", "severity": "critical", "selector": {"tags": {"vigil:service": "nope"}}}
    root = write_catalog(tmp_path, [check])
    assert load_catalog(root).checks  # valid: resolving needs the listing, which validate never reads
    assert main(["plan", str(root), "--listing", str(THREE)]) == 1
    assert "error: check svc: selector vigil:service=nope found no ecs:service" in capsys.readouterr().out


def test_plan_and_discovery_import_no_cdk():
    code = (
        "import sys, infra.plan, infra.discovery, infra.cli.plan_cmd, infra.alarm_tests; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('aws_cdk', 'jsii', 'constructs')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "[]"
