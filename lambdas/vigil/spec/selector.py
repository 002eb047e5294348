"""Tag selectors: a check that watches every resource carrying some tags, found when the stack is built.

A check with a `selector` stands for one *target* per resource found (`ecs` services, `alb` load
balancers). Each target is the same check with the resource filled in and an id derived from the
check's id and the resource's name (`<check id>-<resource slug>`), so its alarms are
`vigil-<env>-<check id>-<resource slug>-<signal>`: a resource tagged later adds its own alarms at the
next deploy and renames nothing that exists. Finding the resources (a recorded listing or the
Resource Groups Tagging API) is infra.discovery's job; this module only names what was found.
"""

from __future__ import annotations

import hashlib
import re
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import Field

from vigil.spec.common import CheckBase, StrictModel, worded

# Tag keys and values as the Resource Groups Tagging API accepts them (TagFilter: key 1-128, value 0-256).
TagKey = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        pattern=worded(r"^[\w.:/=+\-@ ]+$", "a tag key: 1 to 128 letters, digits, spaces and _ . : / = + - @"),
    ),
]
TagValue = Annotated[
    str,
    Field(
        max_length=256,
        pattern=worded(r"^[\w.:/=+\-@ ]*$", "a tag value: up to 256 letters, digits, spaces and _ . : / = + - @"),
    ),
]
# GetResources accepts at most 50 tag filters.
MAX_TAGS = 50
ID_LIMIT = 64  # a check id's length (vigil.result.SLUG_PATTERN)
HASH_LENGTH = 8

Check = TypeVar("Check", bound=CheckBase)


class TagSelector(StrictModel):
    """Every resource of the kind's type carrying all of these tags (each key with exactly that value)."""

    tags: dict[TagKey, TagValue] = Field(
        min_length=1, max_length=MAX_TAGS, description="tag key → value; a resource must carry every one"
    )

    def describe(self) -> str:
        return ", ".join(f"{key}={value}" for key, value in sorted(self.tags.items()))

    def matches(self, tags: dict[str, str]) -> bool:
        return all(tags.get(key) == value for key, value in self.tags.items())


class Selectable:
    """Mixin of the kinds whose checks may name a `selector` (a TagSelector field) instead of one resource."""

    # The Resource Groups Tagging API's resource type the selector looks for, such as "ecs:service".
    resource_type: ClassVar[str]

    def selected_by(self) -> TagSelector | None:
        selector = getattr(self, "selector", None)
        return selector if isinstance(selector, TagSelector) else None

    def for_resource(self, arn: str) -> Selectable | None:
        """The check of one found resource (see `target`); None when this kind does not watch it."""
        raise NotImplementedError

    @property
    def target_label(self) -> str:
        """The watched resource as people name it: cluster/service, a load balancer's name."""
        raise NotImplementedError


def slug(text: str) -> str:
    """Lowercase letters, digits and single hyphens: 'Prod/Campaign_API' → 'prod-campaign-api'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def target_id(check_id: str, key: str) -> str:
    """The id of a check's target: stable for the resource, at most 64 characters.

    A long one keeps its readable start and ends with a hash of the whole key, so two resources
    whose names share a long prefix still get different ids.
    """
    full = f"{check_id}-{slug(key)}"
    if len(full) <= ID_LIMIT:
        return full
    digest = hashlib.sha256(key.encode()).hexdigest()[:HASH_LENGTH]
    return f"{full[: ID_LIMIT - HASH_LENGTH - 1].rstrip('-')}-{digest}"


def target(check: Check, key: str, **fields: Any) -> Check:
    """The check for one found resource: its own id, the resource's fields, no selector."""
    return check.model_copy(update={"id": target_id(check.id, key), "selector": None, **fields})


def arn_resource(arn: str) -> tuple[str, str] | None:
    """('ecs:service', 'service/prod/api') from an ARN; None when it is not an ARN."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    service, resource = parts[2], parts[5]
    return f"{service}:{re.split(r'[/:]', resource, maxsplit=1)[0]}", resource
