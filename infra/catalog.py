"""Loading the catalog: YAML files under a directory → validated models, or a list of problems.

Every problem names the file, the check id, the field, what was found and what is allowed, so
that CI output alone tells an engineer how to fix their pull request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError

from infra.kinds import KINDS
from infra.settings import Settings
from vigil.spec.common import MEASURE_SIGNAL, CheckBase, Severity, Slug, StrictModel

SETTINGS_FILE = "_settings.yaml"
# Alarm unit tests (python -m infra test-alarms) live here; they are not service files.
ALARM_TESTS_DIR = "tests"


class ServiceFile(StrictModel):
    """One file per monitored service: the service's name, its owning team and its checks."""

    service: Slug
    team: Slug | None = None
    checks: list[Any] = Field(default_factory=list)


@dataclass(frozen=True)
class Problem:
    file: str
    message: str
    check: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.check:
            where += f": check {self.check}"
        if self.field:
            where += f": {self.field}"
        return f"{where}: {self.message}"


@dataclass
class Catalog:
    root: Path
    settings: Settings
    checks: list[CheckBase]
    files: dict[str, str] = field(default_factory=dict)  # check id → file it came from

    def by_id(self, check_id: str) -> CheckBase:
        for check in self.checks:
            if check.id == check_id:
                return check
        raise KeyError(check_id)

    def routes_for(self, check: CheckBase) -> list[str]:
        """Routes of the check's own severity (a signal may differ: use routes_for_signal)."""
        return _routes_for(self.settings, check)

    def routes_for_signal(self, check: CheckBase, signal: str) -> list[str]:
        """Routes that hear this signal's alarm: it pages at its own severity (each log pattern has one)."""
        return _routes_for_signal(self.settings, check, signal)

    def suppressor(self, check: CheckBase, signal: str) -> tuple[str, str] | None:
        """(check id, signal) of the alarm whose ALARM holds back this signal's pages, or None.

        The nearest inhibitor wins: the check's own inhibitor signal for its other signals, else the
        inhibitor of the check it is `inhibited_by` (for all its signals, its own inhibitor too).
        `measure` is never held back: vigil failing to measure is vigil's problem, not the target's.
        """
        if signal == MEASURE_SIGNAL.name:
            return None
        own = type(check).inhibitor_signal
        if own is not None and signal != own and own in check.active_signals():
            return check.id, own
        if check.inhibited_by is not None:
            inhibitor = self.by_id(check.inhibited_by)
            signal_name = type(inhibitor).inhibitor_signal
            assert signal_name is not None, "load_catalog rejects an inhibitor without an inhibitor signal"
            return inhibitor.id, signal_name
        return None


def _routes_for(settings: Settings, check: CheckBase, severity: Severity | None = None) -> list[str]:
    severity = severity or check.severity
    return [name for name, route in settings.routes.items() if route.matches(check.service, check.team, severity)]


def _routes_for_signal(settings: Settings, check: CheckBase, signal: str) -> list[str]:
    """The one place a signal's routes are decided: its own severity, else the check's."""
    return _routes_for(settings, check, check.signals[signal].severity)


class CatalogError(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__(f"{len(problems)} problem(s) in the catalog")
        self.problems = problems


def load_catalog(root: Path | str) -> Catalog:
    """Load and validate every file under root; raise CatalogError listing every problem found."""
    root = Path(root)
    problems: list[Problem] = []
    if not root.is_dir():
        raise CatalogError([Problem(str(root), "no such catalog directory")])

    settings = _load_settings(root, problems)
    checks: list[CheckBase] = []
    origin: dict[str, str] = {}
    service_files = sorted(
        p
        for p in root.rglob("*.y*ml")
        if p.name != SETTINGS_FILE and p.suffix in {".yaml", ".yml"} and p.relative_to(root).parts[0] != ALARM_TESTS_DIR
    )
    if not service_files:
        problems.append(Problem(str(root), "no service files (*.yaml) found"))
    for path in service_files:
        for check in _load_service_file(path, settings, problems):
            if check.id in origin:
                problems.append(
                    Problem(str(path), f"duplicate id: already defined in {origin[check.id]}", check.id, "id")
                )
                continue
            origin[check.id] = str(path)
            checks.append(check)

    if settings is not None:
        _check_references(settings, checks, origin, problems, str(root / SETTINGS_FILE))
    if problems or settings is None:
        raise CatalogError(problems)
    return Catalog(root=root, settings=settings, checks=checks, files=origin)


def read_yaml(path: Path, problems: list[Problem]) -> Any:
    """The file's YAML, or None with a problem added when it cannot be read or parsed."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        problems.append(Problem(str(path), f"malformed YAML{where}: {reason}"))
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(str(path), f"cannot read file: {exc}"))
    return None


def _load_settings(root: Path, problems: list[Problem]) -> Settings | None:
    path = root / SETTINGS_FILE
    if not path.exists():
        problems.append(Problem(str(path), "missing: the settings file holds contacts, routes and defaults"))
        return None
    data = read_yaml(path, problems)
    if data is None and not problems:
        problems.append(Problem(str(path), "empty file: expected a mapping with contacts and routes"))
    if data is None:
        return None
    if not isinstance(data, dict):
        problems.append(Problem(str(path), f"expected a mapping at the top level, found {_type_name(data)}"))
        return None
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems.extend(_problems_from(exc, str(path), None))
        return None


def _load_service_file(path: Path, settings: Settings | None, problems: list[Problem]) -> list[CheckBase]:
    data = read_yaml(path, problems)
    if data is None:
        if path.read_bytes().strip() == b"":
            problems.append(Problem(str(path), "empty file: expected service, team and checks"))
        return []
    if not isinstance(data, dict):
        problems.append(Problem(str(path), f"expected a mapping with service and checks, found {_type_name(data)}"))
        return []
    try:
        header = ServiceFile.model_validate(data)
    except ValidationError as exc:
        problems.extend(_problems_from(exc, str(path), None))
        return []

    checks = []
    for index, entry in enumerate(header.checks):
        label = entry.get("id") if isinstance(entry, dict) and isinstance(entry.get("id"), str) else f"#{index + 1}"
        if not isinstance(entry, dict):
            problems.append(Problem(str(path), f"expected a mapping, found {_type_name(entry)}", label))
            continue
        check = _build_check(entry, header, settings, str(path), label, problems)
        if check is not None:
            checks.append(check)
    return checks


def _build_check(
    entry: dict[str, Any],
    header: ServiceFile,
    settings: Settings | None,
    path: str,
    label: str,
    problems: list[Problem],
) -> CheckBase | None:
    kind_name = entry.get("kind")
    kind = KINDS.get(kind_name) if isinstance(kind_name, str) else None
    if kind is None:
        found = "nothing" if kind_name is None else repr(kind_name)
        problems.append(Problem(path, f"found {found}; allowed kinds: {', '.join(sorted(KINDS))}", label, "kind"))
        return None
    for key in ("service", "team"):
        if key in entry:
            problems.append(Problem(path, "set once per file at the top, not per check", label, key))
            return None
    data = {"service": header.service, "team": header.team, **entry}
    if settings is not None:
        data = _with_defaults(data, kind.model, settings)
    try:
        return kind.model.model_validate(data)
    except ValidationError as exc:
        problems.extend(_problems_from(exc, path, label))
        return None


def _with_defaults(data: dict[str, Any], model: type[CheckBase], settings: Settings) -> dict[str, Any]:
    """Apply the settings' defaults under the catalog entry: the entry's own values win."""
    data = dict(data)
    data.setdefault("cadence", settings.defaults.cadence)
    window = settings.defaults.alarm.model_dump(exclude_none=True)
    alarms = data.get("alarms")
    if window and (alarms is None or isinstance(alarms, dict)):
        merged = dict(alarms or {})
        for signal in model.signals:
            own = merged.get(signal)
            if own is None or isinstance(own, dict):
                merged[signal] = {**window, **(own or {})}
        data["alarms"] = merged
    return data


def _check_references(
    settings: Settings, checks: list[CheckBase], origin: dict[str, str], problems: list[Problem], settings_path: str
) -> None:
    for route_name, route in settings.routes.items():
        for channel in ("email", "sms"):
            for contact in getattr(route, channel):
                known = settings.contacts.get(contact)
                if known is None:
                    problems.append(
                        Problem(
                            settings_path,
                            f"unknown contact {contact!r}; contacts: {', '.join(settings.contacts)}",
                            field=f"routes.{route_name}.{channel}",
                        )
                    )
                elif getattr(known, channel) is None:
                    problems.append(
                        Problem(
                            settings_path,
                            f"contact {contact!r} has no {channel} address",
                            field=f"routes.{route_name}.{channel}",
                        )
                    )
    if settings.self_monitoring_route not in settings.routes:
        problems.append(
            Problem(
                settings_path,
                f"unknown route {settings.self_monitoring_route!r}; routes: {', '.join(settings.routes)}",
                field="self_monitoring_route",
            )
        )
    for check in checks:
        path = origin[check.id]
        for ref_field, name in secret_refs(check).items():
            if name not in settings.secrets:
                declared = ", ".join(settings.secrets) or "none declared"
                problems.append(
                    Problem(
                        path, f"unknown secret {name!r}; secrets in {SETTINGS_FILE}: {declared}", check.id, ref_field
                    )
                )
        # Each signal pages at its own severity (a log pattern's may differ from the check's).
        unrouted = sorted(
            {
                (check.signals[s].severity or check.severity).value
                for s in check.active_signals()
                if not _routes_for_signal(settings, check, s)
            }
        )
        for severity in unrouted:
            problems.append(
                Problem(
                    path,
                    f"no route matches service {check.service!r}, team {check.team!r}, severity "
                    f"{severity!r}: add one under routes in {SETTINGS_FILE}",
                    check.id,
                    "severity",
                )
            )
    _check_inhibitions(settings, checks, origin, problems)


def _check_inhibitions(
    settings: Settings, checks: list[CheckBase], origin: dict[str, str], problems: list[Problem]
) -> None:
    """`inhibited_by` names another check that can inhibit, reaches everyone this check pages, and no cycle."""
    by_id = {check.id: check for check in checks}
    inhibitors = sorted(c.id for c in checks if _inhibitor_signal(c) is not None)
    kinds = ", ".join(sorted(name for name, kind in KINDS.items() if kind.model.inhibitor_signal))
    allowed = f"checks that can inhibit (kinds {kinds}): {', '.join(inhibitors) or 'none in this catalog'}"
    for check in checks:
        if check.inhibited_by is not None:
            message = _inhibition_problem(settings, check, by_id.get(check.inhibited_by), allowed)
            if message:
                problems.append(Problem(origin[check.id], message, check.id, "inhibited_by"))
    for cycle in _inhibition_cycles(by_id):
        first = by_id[cycle[0]]
        path = " -> ".join([*cycle, cycle[0]])
        problems.append(
            Problem(
                origin[first.id],
                f"inhibition cycle {path}: were they all down, none would page",
                first.id,
                "inhibited_by",
            )
        )


def _inhibition_problem(settings: Settings, check: CheckBase, target: CheckBase | None, allowed: str) -> str | None:
    ref = check.inhibited_by
    if ref == check.id:
        return f"a check cannot be inhibited by itself; {allowed}"
    if target is None:
        return f"unknown check {ref!r}; {allowed}"
    inhibitor = _inhibitor_signal(target)
    if inhibitor is None:
        return f"check {ref!r} (kind {target.kind}) has no inhibitor signal to hold pages back; {allowed}"
    # Every held-back signal pages at its own severity (a log pattern's may be above the check's),
    # so each one's routes must hear the inhibitor's page. `measure` is never held back.
    heard = _routes_for_signal(settings, target, inhibitor)
    unheard: list[str] = []
    own_severity: list[str] = []  # signals that page at a severity other than the check's, unheard
    for signal in check.active_signals():
        if signal == MEASURE_SIGNAL.name:
            continue
        missing = [r for r in _routes_for_signal(settings, check, signal) if r not in heard]
        unheard += [r for r in missing if r not in unheard]
        severity = check.signals[signal].severity
        if missing and severity is not None and severity != check.severity:
            own_severity.append(f"{signal} ({severity.value})")
    if unheard:
        why = f" (signals paging at their own severity: {', '.join(own_severity)})" if own_severity else ""
        return (
            f"route(s) {', '.join(unheard)} page this check{why} but not {ref!r}, so while {ref!r} is down they "
            "would hear nothing: inhibit only by a check whose routes include this check's"
        )
    return None


def _inhibitor_signal(check: CheckBase) -> str | None:
    """The check's inhibitor signal when it has one that gets an alarm."""
    signal = type(check).inhibitor_signal
    return signal if signal in check.active_signals() else None


def _inhibition_cycles(by_id: dict[str, CheckBase]) -> list[list[str]]:
    """Each cycle of `inhibited_by` references once, starting at its smallest check id."""
    cycles: list[list[str]] = []
    for start in sorted(by_id):
        path = [start]
        ref = by_id[start].inhibited_by
        while ref in by_id and ref not in path and ref != start:
            path.append(ref)
            ref = by_id[ref].inhibited_by
        # A self-reference is reported on its own; only a loop back to `start` made of others is a cycle here.
        if ref == start and len(path) > 1 and start == min(path):
            cycles.append(path)
    return cycles


def secret_refs(check: BaseModel) -> dict[str, str]:
    """Field → secret name, for every secret a check refers to (fields named `secret` or `*_secret`)."""
    return {
        name: value
        for name in type(check).model_fields
        if (name.endswith("_secret") or name == "secret") and (value := getattr(check, name)) is not None
    }


def secret_ids(check: CheckBase, catalog: Catalog) -> dict[str, str]:
    """The Secrets Manager ids of the secrets a check names, as its checker event carries them."""
    return {name: catalog.settings.secrets[name] for name in secret_refs(check).values()}


def _problems_from(exc: ValidationError, path: str, check: str | None) -> list[Problem]:
    problems = []
    for error in exc.errors(include_url=False):
        loc = ".".join(str(part) for part in error["loc"])
        message = _explain(error)
        if not loc:
            # Whole-model rules name their field at the start of the message ("timeout 9s must ...").
            match = re.match(r"^([a-z_]+(?:\.[a-z0-9_-]+)*):? (.*)$", message)
            if match and match.group(1).split(".")[0] in _field_names(error):
                loc, message = match.group(1), match.group(2)
        problems.append(Problem(path, message, check, loc or None))
    return problems


def _field_names(error: dict[str, Any]) -> set[str]:
    found = error.get("input")
    return set(found) if isinstance(found, dict) else set()


def _explain(error: dict[str, Any]) -> str:
    kind = error["type"]
    found = error.get("input")
    msg = str(error["msg"]).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        return "unknown field (check the spelling; see docs/catalog.md for the allowed fields)"
    if kind == "missing":
        return "required field is missing"
    if kind == "string_pattern_mismatch":
        return f"found {found!r}; {_pattern_hint(error)}"
    if kind == "literal_error" or kind == "enum":
        return f"found {found!r}; {msg.replace('Input should be', 'allowed:')}"
    if kind == "value_error" and isinstance(found, dict):
        return msg
    if isinstance(found, (dict, list)):
        return f"{msg} (found {_type_name(found)})"
    return f"{msg} (found {found!r})" if found is not None and "found" not in msg else msg


def _pattern_hint(error: dict[str, Any]) -> str:
    pattern = error.get("ctx", {}).get("pattern", "")
    hints = {
        "^[a-z0-9]": "allowed: a lowercase slug of a-z, 0-9 and '-' (at most 64 characters)",
        "^\\+[1-9]": "allowed: an E.164 phone number such as +447700900123",
        "^[^@\\s]+@": "allowed: an e-mail address",
        "^https?://": "allowed: an http:// or https:// URL",
    }
    for prefix, hint in hints.items():
        if pattern.startswith(prefix):
            return hint
    return f"allowed: text matching {pattern}"


def _type_name(value: Any) -> str:
    return {list: "a list", dict: "a mapping", str: "text", int: "a number", float: "a number", bool: "true/false"}.get(
        type(value), type(value).__name__
    )
