"""Loading the catalog: YAML files under a directory → validated models, or a list of problems.

Every problem names the file, the check id, the field, what was found and what is allowed, so
that CI output alone tells an engineer how to fix their pull request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from infra import check_groups
from infra.catalog_yaml import Document, Problem, entry_label, read_yaml, yaml_files
from infra.kinds import KINDS
from infra.notifier_config import environment_problem, notifier_environment
from infra.secret_convention import MAX_EXPLICIT_SECRETS, SECRET_PREFIX, by_prefix
from infra.settings import Settings, paging_problems, routing_problems
from infra.windows import Declared, ServiceWindow, resolve
from vigil.silences.windows import Window
from vigil.spec.common import MEASURE_SIGNAL, PATTERN_WORDS, CheckBase, Severity, Slug, StrictModel
from vigil.spec.heartbeat import TOKEN_SECRET_PREFIX

SETTINGS_FILE = "_settings.yaml"
# Alarm unit tests (python -m infra test-alarms) live here; they are not service files.
ALARM_TESTS_DIR = "tests"


class ServiceFile(StrictModel):
    """One file per monitored service: the service's name, its owning team and its checks."""

    service: Slug
    team: Slug | None = None
    windows: dict[Slug, ServiceWindow] = Field(default_factory=dict)
    checks: list[Any] = Field(default_factory=list)


@dataclass
class Catalog:
    root: Path
    settings: Settings
    checks: list[CheckBase]
    files: dict[str, str] = field(default_factory=dict)  # check id → file it came from
    # Service files that say `checks: []`: valid, and listed by validate so that none goes unnoticed.
    without_checks: list[str] = field(default_factory=list)
    # Maintenance windows, each with the checks and services it covers (infra/windows.py).
    windows: list[Window] = field(default_factory=list)

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
    return settings.routes_for(check.service, check.team, severity or check.severity)


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

    sources = _Sources()
    settings = _load_settings(root, problems, sources)
    checks: list[CheckBase] = []
    origin: dict[str, str] = {}
    without_checks: list[str] = []
    declared: list[Declared] = []
    service_files = [
        p for p in yaml_files(root) if p.name != SETTINGS_FILE and p.relative_to(root).parts[0] != ALARM_TESTS_DIR
    ]
    if not service_files:
        problems.append(Problem(str(root), "no service files (*.yaml) found"))
    for path in service_files:
        file = str(path)
        entries = _load_service_file(path, settings, problems, sources, declared)
        if entries == [] and not sources.documents[file].data.get("checks"):
            without_checks.append(file)
        for index, check in entries or []:
            if check.id in origin:
                where = sources.line(file, ("checks", str(index), "id"))
                problems.append(
                    Problem(file, f"duplicate id: already defined in {origin[check.id]}", check.id, "id", where)
                )
                continue
            origin[check.id] = file
            checks.append(check)
    problems += check_groups.problems(checks, origin)

    windows: list[Window] = []
    if settings is not None:
        _check_references(settings, checks, origin, problems, str(root / SETTINGS_FILE))
        windows, found = resolve(str(root / SETTINGS_FILE), settings.windows, declared, checks, origin)
        problems += [Problem(p.file, p.message, field=p.field) for p in found]
        # Sized once the rest is sound: it reads the outputs' secret references, checked above.
        too_big = None if problems else environment_problem(notifier_environment(settings, windows, datetime.now(UTC)))
        if too_big:
            problems.append(Problem(str(root / SETTINGS_FILE), too_big))
    if problems or settings is None:
        raise CatalogError([sources.place(p) for p in problems])
    return Catalog(
        root=root, settings=settings, checks=checks, files=origin, without_checks=without_checks, windows=windows
    )


@dataclass
class _Sources:
    """What problems point into: each file's document, and each check's position in its file's list."""

    documents: dict[str, Document] = field(default_factory=dict)
    entries: dict[tuple[str, str], int] = field(default_factory=dict)  # (file, check label) → index

    def line(self, file: str, path: tuple[str, ...]) -> int | None:
        document = self.documents.get(file)
        return document.line(path) if document else None

    def place(self, problem: Problem) -> Problem:
        """The problem with the line of its check and field, when it has none yet."""
        if problem.line is not None:
            return problem
        index = self.entries.get((problem.file, problem.check or ""))
        base = ("checks", str(index)) if index is not None else ()
        # Pydantic and the alarm tests write list positions as .0 or [0]: both become path parts.
        field_path = tuple(part for part in re.split(r"[.\[\]]+", problem.field or "") if part)
        return replace(problem, line=self.line(problem.file, (*base, *field_path)))


def _load_settings(root: Path, problems: list[Problem], sources: _Sources) -> Settings | None:
    path = root / SETTINGS_FILE
    if not path.exists():
        problems.append(Problem(str(path), "missing: the settings file holds contacts, routes and defaults"))
        return None
    document = read_yaml(path, problems, "a mapping with contacts and routes")
    if document is None:
        return None
    sources.documents[str(path)] = document
    data = document.data
    if not isinstance(data, dict):
        problems.append(Problem(str(path), f"expected a mapping at the top level, found {_type_name(data)}"))
        return None
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems.extend(_problems_from(exc, str(path), None))
        return None


def _load_service_file(
    path: Path, settings: Settings | None, problems: list[Problem], sources: _Sources, declared: list[Declared]
) -> list[tuple[int, CheckBase]] | None:
    """(position in the file's list, check) for every valid check; None when the file itself is unusable."""
    file = str(path)
    document = read_yaml(
        path,
        problems,
        "service, team and checks (a service without checks says checks: [], or delete the file)",
    )
    if document is None:
        return None
    sources.documents[file] = document
    data = document.data
    if not isinstance(data, dict):
        problems.append(Problem(file, f"expected a mapping with service and checks, found {_type_name(data)}"))
        return None
    try:
        header = ServiceFile.model_validate(data)
    except ValidationError as exc:
        problems.extend(_problems_from(exc, file, None))
        return None
    declared += [Declared(file, header.service, name, window) for name, window in header.windows.items()]

    checks = []
    for index, entry in enumerate(header.checks):
        label = entry_label(entry.get("id") if isinstance(entry, dict) else None, index)
        sources.entries.setdefault((file, label), index)
        if not isinstance(entry, dict):
            problems.append(Problem(file, f"expected a mapping, found {_type_name(entry)}", label))
            continue
        check = _build_check(entry, header, settings, file, label, problems)
        if check is not None:
            checks.append((index, check))
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
        found = "nothing" if kind_name is None else _found(kind_name)
        problems.append(Problem(path, f"found {found}; allowed kinds: {', '.join(sorted(KINDS))}", label, "kind"))
        return None
    for key in ("service", "team"):
        if key in entry:
            problems.append(Problem(path, "set once per file at the top, not per check", label, key))
            return None
    data = {"service": header.service, "team": header.team, **entry}
    try:
        return _validate(kind.model, data, settings)
    except ValidationError as exc:
        problems.extend(_problems_from(exc, path, label))
        return None


def _validate(model: type[CheckBase], data: dict[str, Any], settings: Settings | None) -> CheckBase:
    """The check with the settings' defaults under the entry's own values.

    The default alarm window goes first to the signals the entry names, then to every other signal
    the check turns out to have. Naming a signal under `alarms` switches some on (sqs drain_time)
    and is refused where the check cannot have it (an sqs dlq without a DLQ, amazonmq memory without
    a threshold), so the defaults must never name a signal on the entry's behalf.
    """
    if settings is None:
        return model.model_validate(data)
    data = {"cadence": settings.defaults.cadence, **data}
    window = settings.defaults.alarm.model_dump(exclude_none=True)
    alarms = data.get("alarms")
    if not window or not (alarms is None or isinstance(alarms, dict)):
        return model.model_validate(data)
    # Class-level signals only: log patterns (instance signals) count over one window, not M of N.
    named = set(alarms or {}) & set(model.signals)
    check = model.model_validate(_with_window(data, window, named))
    rest = (set(model.signals) & set(check.active_signals())) - named
    return model.model_validate(_with_window(data, window, named | rest)) if rest else check


def _with_window(data: dict[str, Any], window: dict[str, Any], signals: set[str]) -> dict[str, Any]:
    alarms = dict(data.get("alarms") or {})
    for signal in signals:
        own = alarms.get(signal)
        if own is None or isinstance(own, dict):
            alarms[signal] = {**window, **(own or {})}
    return {**data, "alarms": alarms}


def _check_references(
    settings: Settings, checks: list[CheckBase], origin: dict[str, str], problems: list[Problem], settings_path: str
) -> None:
    problems.extend(Problem(settings_path, message, field=field) for field, message in routing_problems(settings))
    problems.extend(Problem(settings_path, message, field=field) for field, message in paging_problems(settings))
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
    own = settings.routes.get(settings.self_monitoring_route)
    if own is None:
        problems.append(
            Problem(
                settings_path,
                f"unknown route {settings.self_monitoring_route!r}; routes: {', '.join(settings.routes)}",
                field="self_monitoring_route",
            )
        )
    elif not own.email and not own.sms:
        # It pages when the notifier or an output is down, straight from SNS: outputs cannot carry that.
        problems.append(
            Problem(
                settings_path,
                f"route {settings.self_monitoring_route!r} has no email or sms contact: vigil's own alarms "
                "(notifier or output down) reach people by e-mail or SMS without the notifier, never by outputs",
                field="self_monitoring_route",
            )
        )
    for route_name, route in settings.routes.items():
        for index, output in enumerate(route.outputs):
            if output.credentials_secret not in settings.secrets:
                field = f"routes.{route_name}.outputs.{index}.credentials_secret"
                problems.append(Problem(settings_path, _unknown_secret(settings), field=field))
    problems.extend(_secret_convention_problems(settings_path, settings))
    for check in checks:
        path = origin[check.id]
        for ref_field, name in secret_refs(check).items():
            if name not in settings.secrets:
                problems.append(Problem(path, _unknown_secret(settings), check.id, ref_field))
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
                    f"{severity!r}: add one under routes in {SETTINGS_FILE}, or set default_route",
                    check.id,
                    "severity",
                )
            )
    _check_inhibitions(settings, checks, origin, problems)


def _secret_convention_problems(settings_path: str, settings: Settings) -> list[Problem]:
    """Secrets outside the vigil/ prefix are granted one by one, up to a cap; job tokens' folder is off-limits.

    Entries are named by key only: a value may be a password pasted by mistake.
    """
    problems = [
        Problem(
            settings_path,
            f"a secret under {TOKEN_SECRET_PREFIX} is reserved for heartbeat job tokens, which checkers may "
            f"never read; name it elsewhere under {SECRET_PREFIX}",
            field=f"secrets.{name}",
        )
        for name, ref in settings.secrets.items()
        if ref.startswith(TOKEN_SECRET_PREFIX)
    ]
    outside = [name for name, ref in settings.secrets.items() if not by_prefix(ref)]
    if len(outside) > MAX_EXPLICIT_SECRETS:
        problems.append(
            Problem(
                settings_path,
                f"{len(outside)} secrets are outside the {SECRET_PREFIX} prefix ({', '.join(outside)}); at most "
                f"{MAX_EXPLICIT_SECRETS} may be granted one by one: name the others {SECRET_PREFIX}<service>/<name> "
                "in this account and region (docs/operations.md, Secrets)",
                field="secrets",
            )
        )
    return problems


def _unknown_secret(settings: Settings) -> str:
    # The name is not repeated: a secret field may hold a password pasted by mistake.
    declared = ", ".join(settings.secrets) or "none declared"
    return (
        f"unknown secret: no entry of that name under secrets in {SETTINGS_FILE} (declared: {declared}); "
        "the name found is not shown, as a secret field may hold a secret by mistake"
    )


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
        if is_secret_ref(name) and (value := getattr(check, name)) is not None
    }


def is_secret_ref(name: str) -> bool:
    """Whether a field of a check names a secret under the settings' `secrets`."""
    return name == "secret" or name.endswith("_secret")


def is_secret_name(name: str) -> bool:
    """Whether a field holds a Secrets Manager name itself, not an entry under `secrets`.

    The heartbeat's `token_secret_name`: its ping endpoint may read only names under one prefix,
    which the pattern enforces, so the name is written in the check.
    """
    return name.endswith("_secret_name")


def _holds_secret(loc: tuple[Any, ...]) -> bool:
    """Whether the value at loc names or locates a secret, so that an error never shows it.

    A password pasted into such a field by mistake must not reach the CI log: the settings'
    `secrets` map, every field that refers to it, and every field that names a secret itself.
    """
    names = [part for part in loc if isinstance(part, str)]
    return bool(names) and (names[0] == "secrets" or any(is_secret_ref(name) or is_secret_name(name) for name in names))


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
    """One error in words: what was found (never a secret, never a regex) and what is allowed."""
    kind = error["type"]
    found = error.get("input")
    msg = str(error["msg"]).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        return "unknown field (check the spelling; see docs/catalog.md for the allowed fields)"
    if kind == "missing":
        return "required field is missing"
    if _holds_secret(error["loc"]):
        return _explain_secret(error, msg)
    if kind == "string_pattern_mismatch":
        return f"found {_found(found)}; {_pattern_hint(error)}"
    if kind == "literal_error" or kind == "enum":
        return f"found {_found(found)}; {msg.replace('Input should be', 'allowed:')}"
    if kind == "value_error" and isinstance(found, dict | list):
        return msg  # a rule about the whole mapping or list says what is wrong in it
    if found is None:
        return f"{msg} (found nothing: the key has no value)" if kind.endswith("_type") else msg
    return msg if "found" in msg and not isinstance(found, dict | list) else f"{msg} (found {_found(found)})"


def _explain_secret(error: dict[str, Any], msg: str) -> str:
    found = error.get("input")
    rule = _pattern_hint(error) if error["type"] == "string_pattern_mismatch" else msg
    names = [part for part in error["loc"] if isinstance(part, str)]
    if any(is_secret_ref(name) for name in names):
        rule += "; the field holds the name of an entry under secrets in " + SETTINGS_FILE
    shown = "text, not shown" if isinstance(found, str) else f"{_type_name(found)}, not shown"
    return f"{rule} (found {shown}: a secret field never echoes its value, which may be a secret pasted by mistake)"


# What an echoed value may show: no credentials or query of a URL, and no more than a line.
_URL_USERINFO = re.compile(r"(://)[^/?#\s]*@")
_URL_QUERY = re.compile(r"\?[^#\s]*")
_SHOWN_LENGTH = 80


def _found(value: Any) -> str:
    """A value found, as a message may show it."""
    if value is None:
        return "nothing"
    if isinstance(value, dict | list):
        return _type_name(value)
    if not isinstance(value, str):
        return repr(value)
    if "://" in value:
        value = _URL_QUERY.sub("?***", _URL_USERINFO.sub(r"\1***@", value))
    if len(value) > _SHOWN_LENGTH:
        return f"{value[:_SHOWN_LENGTH]!r}... ({len(value)} characters)"
    return repr(value)


def _pattern_hint(error: dict[str, Any]) -> str:
    # Never the regex itself: every pattern of the models is worded (a test holds them to it).
    pattern = error.get("ctx", {}).get("pattern", "")
    return f"allowed: {PATTERN_WORDS.get(pattern, 'the form docs/catalog.md describes for this field')}"


def _type_name(value: Any) -> str:
    return {list: "a list", dict: "a mapping", str: "text", int: "a number", float: "a number", bool: "true/false"}.get(
        type(value), type(value).__name__
    )
