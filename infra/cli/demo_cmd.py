"""`python -m infra demo`: deploy to an embedded local AWS, run the checks, print what on-call receives."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options: the demo is one fixed story


def run(args: argparse.Namespace) -> int:
    from infra.demo import run_demo  # imports moto and boto3: only when the demo runs

    return run_demo()
