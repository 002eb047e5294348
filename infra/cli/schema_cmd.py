"""`python -m infra schema [--check]`: the JSON Schemas generated from the spec models.

Two sets, both committed: schema/ for editors completing catalog files, and vigil/schemas/ inside
the Lambda package, against which checkers check their input without importing pydantic
(vigil.check_schema explains why).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import Field, TypeAdapter

from infra.kinds import KINDS
from infra.settings import Settings
from infra.windows import ServiceWindow
from vigil.check_schema import SCHEMA_DIR as CHECKER_SCHEMA_DIR
from vigil.outputs.webhook import WebhookBody
from vigil.spec.common import Slug, StrictModel

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = ROOT / "schema"


def schemas() -> dict[str, dict[str, Any]]:
    """Service-file and settings-file schemas, generated from the same models that validate, and the
    generic webhook's body, for receivers to check what they are sent."""
    # service and team are written once per file, so the per-check schema leaves them out.
    check_models = tuple(_without_file_fields(kind.model) for kind in KINDS.values())
    check = Annotated[Union[check_models], Field(discriminator="kind")]  # noqa: UP007

    class ServiceFile(StrictModel):
        service: Slug
        team: Slug | None = None
        windows: dict[Slug, ServiceWindow] = {}
        checks: list[check] = []  # type: ignore[valid-type]

    service = ServiceFile.model_json_schema()
    service["title"] = "vigil service file (checks/<service>.yaml)"
    settings = TypeAdapter(Settings).json_schema()
    settings["title"] = "vigil settings (checks/_settings.yaml)"
    webhook = WebhookBody.model_json_schema(by_alias=True)
    webhook["title"] = "vigil generic webhook body, vigil.alert/v1 (docs/outputs.md)"
    return {"service.schema.json": service, "settings.schema.json": settings, "webhook-v1.schema.json": webhook}


def checker_schemas() -> dict[str, dict[str, Any]]:
    """The whole check, as the schedule's event carries it, for each kind whose checker reads it without pydantic."""
    return {f"{name}.json": kind.model.model_json_schema() for name, kind in KINDS.items() if kind.model.schema_checked}


def _without_file_fields(model: type) -> type:
    fields = {
        name: (info.annotation, info) for name, info in model.model_fields.items() if name not in ("service", "team")
    }
    fields["kind"] = (Literal[model.model_fields["kind"].annotation.__args__[0]], Field())
    from pydantic import create_model

    return create_model(model.__name__, __base__=StrictModel, **fields)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed schemas are stale")


def run(args: argparse.Namespace) -> int:
    wanted = {SCHEMA_DIR / name: schema for name, schema in schemas().items()}
    wanted |= {CHECKER_SCHEMA_DIR / name: schema for name, schema in checker_schemas().items()}
    stale = []
    for path, schema in wanted.items():
        text = json.dumps(schema, indent=2, sort_keys=True) + "\n"
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path.relative_to(ROOT)))
        else:
            path.parent.mkdir(exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    # A kind that was removed must not leave a schema behind for a checker that no longer exists.
    orphans = sorted(set(CHECKER_SCHEMA_DIR.glob("*.json")) - set(wanted))
    if orphans and not args.check:
        for path in orphans:
            path.unlink()
            print(f"removed {path.relative_to(ROOT)}")
    elif orphans:
        stale += [str(path.relative_to(ROOT)) for path in orphans]
    if stale:
        print(f"stale: {', '.join(stale)}; run `python -m infra schema` and commit schema/ and lambdas/vigil/schemas/")
        return 1
    return 0
