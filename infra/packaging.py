"""The Lambda code asset, built without Docker.

Dependencies come from pip's cross-platform wheel download (manylinux aarch64, CPython 3.12), so a
laptop or CI runner of any architecture builds exactly what the ARM_64 python3.12 runtime loads.
The dependency directory is cached under .build/ by the hash of requirements-lambda.txt; the
final asset directory is cached by the hash of that plus the `vigil` sources, so a synth with no
change rebuilds nothing and the asset hash (and so the functions) stays the same.

Every function shares that asset except the kinds in KIND_REQUIREMENTS: the consistency checker's
adds pyarrow (Parquet exports, ~126 MB unpacked), built the same way from its own requirements
file, so the other functions do not carry it.
"""

from __future__ import annotations

import compileall
import hashlib
import os
import py_compile
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from aws_cdk import aws_lambda as lambda_

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / ".build"
REQUIREMENTS = ROOT / "requirements-lambda.txt"
# Kinds whose functions get an asset of their own (a superset of REQUIREMENTS); the rest share one.
KIND_REQUIREMENTS = {"consistency": ROOT / "requirements-lambda-consistency.txt"}
SOURCE = ROOT / "lambdas" / "vigil"

RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.ARM_64
PYTHON_VERSION = "3.12"
PLATFORM = "manylinux2014_aarch64"


def _digest(*paths: Path) -> str:
    sha = hashlib.sha256()
    for path in paths:
        files = (
            _requirement_files(path)
            if path.is_file()
            else sorted(p for p in path.rglob("*") if p.is_file() and not _cached(p))
        )
        for file in files:
            sha.update(str(file.relative_to(ROOT)).encode())
            sha.update(file.read_bytes())
    return sha.hexdigest()[:16]


def _requirement_files(requirements: Path) -> list[Path]:
    """The file and those it includes with `-r` (relative to it, as pip reads them): a change to the
    shared pins changes the digest of every asset built on them."""
    files = [requirements]
    for line in requirements.read_text().splitlines():
        if match := re.match(r"^\s*(?:-r|--requirement)[\s=]+(\S+)", line):
            files += _requirement_files(requirements.parent / match.group(1))
    return files


def _flavor(requirements: Path) -> str:
    """ "" for the shared asset, "<kind>-" for a kind's own: a directory name prefix, pruned apart."""
    for kind, path in KIND_REQUIREMENTS.items():
        if requirements.resolve() == path.resolve():
            return f"{kind}-"
    return ""


def _cached(path: Path) -> bool:
    return "__pycache__" in path.parts or path.suffix == ".pyc"


def dependencies(requirements: Path = REQUIREMENTS) -> Path:
    """pip install --target for the Lambda platform, once per content of requirements-lambda.txt."""
    target = BUILD / f"deps-{_flavor(requirements)}{_digest(requirements)}"
    if (target / ".complete").exists():
        return target
    partial = _scratch()
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
    target_platform = ["--platform", PLATFORM, "--implementation", "cp", "--python-version", PYTHON_VERSION]
    wheels_only = ["--only-binary=:all:", "-r", str(requirements)]
    subprocess.run([*pip, "--target", str(partial), *target_platform, *wheels_only], check=True)
    # pip leaves console scripts the runtime never runs.
    shutil.rmtree(partial / "bin", ignore_errors=True)
    _publish(partial, target)
    return target


def build(requirements: Path = REQUIREMENTS, source: Path = SOURCE) -> Path:
    """The asset directory: dependencies + lambdas/vigil, byte-compiled for Python 3.12."""
    deps = dependencies(requirements)
    out = BUILD / f"lambda-{_flavor(requirements)}{_digest(requirements, source)}"
    if (out / ".complete").exists():
        return out
    partial = _scratch()
    shutil.copytree(deps, partial, ignore=shutil.ignore_patterns(".complete"), dirs_exist_ok=True)
    shutil.copytree(source, partial / "vigil", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _compile(partial)
    _publish(partial, out)
    _prune()
    return out


def _scratch() -> Path:
    # A private directory per build: parallel synths (test workers, CI jobs) never share one.
    BUILD.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=".tmp-", dir=BUILD))


def _publish(partial: Path, target: Path) -> None:
    """Atomic rename; if a parallel build got there first, its identical result wins."""
    (partial / ".complete").touch()
    try:
        partial.rename(target)
    except OSError:
        shutil.rmtree(partial, ignore_errors=True)
        if not (target / ".complete").exists():
            raise


def _compile(directory: Path) -> None:
    """Byte-compile with a 3.12 interpreter (a 3.11 .pyc is ignored by the 3.12 runtime).

    Hash-based .pyc files (unchecked) do not embed mtimes, so the asset hash depends on content
    only. Without a local Python 3.12 the cold start compiles instead: slower, still correct.
    """
    python = _python312()
    if python is None:
        print("vigil packaging: no python3.12 found; shipping source only", file=sys.stderr)
        return
    if Path(python).resolve() == Path(sys.executable).resolve():
        compileall.compile_dir(
            directory, quiet=1, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH, workers=0
        )
        return
    subprocess.run(
        [python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(directory)],
        check=True,
    )


def _python312() -> str | None:
    if sys.version_info[:2] == (3, 12):
        return sys.executable
    candidates = [os.environ.get("VIGIL_PYTHON312", "")]
    candidates += sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.12*/bin/python3.12"))
    candidates.append(shutil.which("python3.12") or "")
    for candidate in candidates:
        if candidate and subprocess.run([candidate, "-c", ""], capture_output=True).returncode == 0:
            return candidate
    return None


def _prune(keep: int = 3) -> None:
    """Old builds are dead weight; keep a few recent ones of each asset, which a parallel synth may
    still be reading (the shared and each kind's asset counted apart, so one never evicts the other)."""
    flavors = ["", *(f"{kind}-" for kind in KIND_REQUIREMENTS)]
    for stage in ("deps-", "lambda-"):
        for flavor in flavors:
            pattern = re.compile(rf"^{stage}{flavor}[0-9a-f]{{16}}$")
            builds = [p for p in BUILD.glob(f"{stage}{flavor}*") if pattern.match(p.name)]
            builds.sort(key=lambda p: p.stat().st_mtime, reverse=True)
            for path in builds[keep:]:
                shutil.rmtree(path, ignore_errors=True)


def requirements_for(kind: str | None) -> Path:
    """The requirements file of a kind's functions: its own, or the shared one."""
    return KIND_REQUIREMENTS.get(kind or "", REQUIREMENTS)


def code(kind: str | None = None) -> lambda_.Code:
    """The asset of a kind's functions (the shared one unless KIND_REQUIREMENTS names the kind)."""
    return lambda_.Code.from_asset(str(build(requirements_for(kind))))
