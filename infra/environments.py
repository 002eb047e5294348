"""Deployment targets: environment name → account, region and catalog directory (environments.yaml)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENTS_FILE = ROOT / "environments.yaml"
DEFAULT_ENV = "demo"
# The name ends up in topic, alarm and dashboard names: keep it a short slug.
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,15}$")


@dataclass(frozen=True)
class Environment:
    name: str
    catalog: Path
    account: str | None = None
    region: str | None = None
    # A recorded Resource Groups Tagging API listing for tag selectors (infra.discovery); None: ask AWS.
    listing: Path | None = None


def load_environments(path: Path = ENVIRONMENTS_FILE) -> dict[str, Environment]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    environments = {}
    for name, entry in data.items():
        if not _NAME.match(name):
            raise ValueError(f"{path}: environment {name!r}: use a lowercase slug of at most 16 characters")
        entry = entry or {}
        unknown = set(entry) - {"catalog", "account", "region", "listing"}
        if unknown:
            raise ValueError(f"{path}: environment {name!r}: unknown field(s) {', '.join(sorted(unknown))}")
        catalog = Path(entry.get("catalog", "checks"))
        account = entry.get("account")
        listing = Path(entry["listing"]) if entry.get("listing") else None
        environments[name] = Environment(
            name=name,
            catalog=catalog if catalog.is_absolute() else path.parent / catalog,
            account=str(account) if account is not None else None,
            region=entry.get("region"),
            listing=listing if listing is None or listing.is_absolute() else path.parent / listing,
        )
    return environments


def get_environment(name: str | None, path: Path = ENVIRONMENTS_FILE) -> Environment:
    name = name or DEFAULT_ENV
    environments = load_environments(path)
    if name not in environments:
        raise ValueError(f"unknown environment {name!r}; {path.name} defines: {', '.join(environments)}")
    return environments[name]
