"""Resolving tag selectors: which resources a check with a `selector` watches, decided at synth.

The source is either a recorded listing, a JSON file shaped like the Resource Groups Tagging API's
GetResources response (what `aws resourcegroupstaggingapi get-resources` prints: a
ResourceTagMappingList of ResourceARN and Tags), or, without one, the same API called at synth with
the deploying credentials. Both go through `matching`, so a recorded listing and the live account
select alike. The API call is the only AWS call, made once per selector check when the stack is
assembled (`resolve`), never by validate or plan (plan reads a listing only when given one).

A selector that finds nothing is an error: a check watching nothing would look healthy forever.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vigil.spec.common import CheckBase
from vigil.spec.selector import Selectable, TagSelector, arn_resource


class DiscoveryError(Exception):
    """A selector that cannot be resolved: the message says which check, what was looked for and the way out."""


class _Tag(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    Key: str
    Value: str = ""


class ResourceTagMapping(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    ResourceARN: str
    Tags: list[_Tag] = Field(default_factory=list)

    def tags(self) -> dict[str, str]:
        return {tag.Key: tag.Value for tag in self.Tags}


class Listing(BaseModel):
    """GetResources' response (one page, or all pages' mappings in one list as the AWS CLI prints them)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    ResourceTagMappingList: list[ResourceTagMapping]


def matching(mappings: Iterable[ResourceTagMapping], resource_type: str, selector: TagSelector) -> list[str]:
    """ARNs of the resources of this type that carry every tag of the selector, sorted."""
    return sorted(
        {
            m.ResourceARN
            for m in mappings
            if (parsed := arn_resource(m.ResourceARN)) is not None
            and parsed[0] == resource_type
            and selector.matches(m.tags())
        }
    )


class Source(Protocol):
    """Where resources are looked up."""

    def describe(self) -> str: ...

    def find(self, resource_type: str, selector: TagSelector) -> list[str]: ...


@dataclass(frozen=True)
class RecordedListing:
    """A listing recorded earlier (a test fixture, or `aws resourcegroupstaggingapi get-resources > FILE`)."""

    path: Path

    def describe(self) -> str:
        return f"the recorded listing {self.path}"

    def listing(self) -> Listing:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise DiscoveryError(f"{self.path}: cannot read the listing: {exc}") from None
        except json.JSONDecodeError as exc:
            raise DiscoveryError(f"{self.path}: not JSON ({exc.msg} at line {exc.lineno})") from None
        try:
            return Listing.model_validate(data)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            raise DiscoveryError(
                f"{self.path}: not a GetResources response ({where}: {first['msg']}); expected "
                '{"ResourceTagMappingList": [{"ResourceARN": "...", "Tags": [{"Key": "...", "Value": "..."}]}]}'
            ) from None

    def find(self, resource_type: str, selector: TagSelector) -> list[str]:
        return matching(self.listing().ResourceTagMappingList, resource_type, selector)


@dataclass(frozen=True)
class TaggingApi:
    """The Resource Groups Tagging API of the deploying account, at synth."""

    region: str | None

    def describe(self) -> str:
        return f"the Resource Groups Tagging API in {self.region or 'the default region'}"

    def find(self, resource_type: str, selector: TagSelector) -> list[str]:
        import boto3  # only here: validate and plan never reach AWS
        from botocore.exceptions import BotoCoreError, ClientError

        session = boto3.Session(region_name=self.region)
        if session.get_credentials() is None or session.region_name is None:
            raise DiscoveryError(
                "no AWS credentials or region at synth; give a recorded listing instead "
                "(environments.yaml `listing:`, or `-c listing=FILE`)"
            )
        client = session.client("resourcegroupstaggingapi")
        filters = [{"Key": key, "Values": [value]} for key, value in sorted(selector.tags.items())]
        mappings: list[ResourceTagMapping] = []
        try:
            for page in client.get_paginator("get_resources").paginate(
                TagFilters=filters, ResourceTypeFilters=[resource_type]
            ):
                mappings += [ResourceTagMapping.model_validate(m) for m in page.get("ResourceTagMappingList", [])]
        except (BotoCoreError, ClientError) as exc:
            raise DiscoveryError(f"GetResources failed: {exc}") from None
        return matching(mappings, resource_type, selector)


def source_for(listing: Path | None, region: str | None) -> Source:
    return RecordedListing(listing) if listing is not None else TaggingApi(region)


Targets = dict[str, list[CheckBase]]  # selector check id → one check per resource found


def selecting(checks: Iterable[CheckBase]) -> list[CheckBase]:
    """The checks that name a tag selector."""
    return [c for c in checks if isinstance(c, Selectable) and c.selected_by() is not None]


def resolve(checks: Iterable[CheckBase], source: Source) -> Targets:
    """For every check with a selector, the checks of the resources it finds, sorted by id."""
    targets: Targets = {}
    for check in selecting(checks):
        assert isinstance(check, Selectable)
        selector = check.selected_by()
        assert selector is not None
        try:
            arns = source.find(check.resource_type, selector)
        except DiscoveryError as exc:
            raise DiscoveryError(f"check {check.id}: selector {selector.describe()}: {exc}") from None
        found = _targets(check, arns)
        if not found:
            raise DiscoveryError(
                f"check {check.id}: selector {selector.describe()} found no {check.resource_type} in "
                f"{source.describe()}; check the tags (a check watching nothing would look healthy forever)"
            )
        targets[check.id] = found
    return targets


def _targets(check: CheckBase, arns: list[str]) -> list[CheckBase]:
    assert isinstance(check, Selectable)
    by_id: dict[str, tuple[str, CheckBase]] = {}
    for arn in arns:
        found = check.for_resource(arn)
        if found is None:
            continue  # of the type, but not one this kind watches (a network load balancer for alb)
        assert isinstance(found, CheckBase)
        other = by_id.get(found.id)
        if other is not None:
            raise DiscoveryError(
                f"check {check.id}: {other[0]} and {arn} both get the id {found.id}; "
                "rename one of them or narrow the selector"
            )
        by_id[found.id] = (arn, found)
    return [by_id[key][1] for key in sorted(by_id)]


def found_labels(targets: Targets, check_id: str) -> list[str] | None:
    """What a selector found, as people name it (cluster/service, a load balancer); None: not resolved."""
    found = targets.get(check_id)
    return None if found is None else [t.target_label for t in found if isinstance(t, Selectable)]
