"""Ad-hoc silences, as the notifier's state table holds them.

`python -m infra silence CHECK|SERVICE --for 2h --reason ...` writes one item; the notifier reads
every item of the partition with one Query per invocation (vigil.notifier.silencing). Items:

    pk = "silences"   sk = "adhoc#<id>"   target, name, reason, created_by, start, until, expires_at

`expires_at`, the table's TTL attribute, is the silence's end: DynamoDB deletes it some time after
(lazily), so readers compare `until` with the time themselves. Expiring a silence early sets
`until` (and `expires_at`) to now and records who did it.

The same partition holds what silences held back (vigil.silences.held), so that one Query answers
both questions the notifier has.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

PARTITION = "silences"
ADHOC_PREFIX = "adhoc#"
MAX_REASON = 300
MAX_SECONDS = 15 * 86400  # as long as a maintenance window may last

Target = Literal["check", "service"]


class AdhocSilence(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str = Field(pattern=r"^[a-z0-9]{4,16}$")
    target: Target  # what `name` is: a check id or a service
    name: str
    reason: str = Field(min_length=1, max_length=MAX_REASON)
    created_by: str
    start: datetime
    until: datetime
    expired_by: str | None = None  # who ended it early

    def covers(self, check: str, service: str) -> bool:
        return self.name == (check if self.target == "check" else service)

    def active_at(self, at: datetime) -> bool:
        return self.start <= at < self.until

    @property
    def sort_key(self) -> str:
        return ADHOC_PREFIX + self.id

    def to_item(self) -> dict[str, dict[str, str]]:
        """The DynamoDB item (attribute values), TTL at its end."""
        item = {
            "pk": {"S": PARTITION},
            "sk": {"S": self.sort_key},
            "target": {"S": self.target},
            "name": {"S": self.name},
            "reason": {"S": self.reason},
            "created_by": {"S": self.created_by},
            "start": {"S": _iso(self.start)},
            "until": {"S": _iso(self.until)},
            "expires_at": {"N": str(int(self.until.timestamp()))},
        }
        if self.expired_by is not None:
            item["expired_by"] = {"S": self.expired_by}
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> AdhocSilence:
        """The silence an item holds; ValueError (pydantic's) when it is not one."""
        text = {name: value["S"] for name, value in item.items() if isinstance(value, dict) and "S" in value}
        return cls.model_validate({**text, "id": text.get("sk", "").removeprefix(ADHOC_PREFIX)})


def is_adhoc(item: dict[str, Any]) -> bool:
    return str(item.get("sk", {}).get("S", "")).startswith(ADHOC_PREFIX)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
