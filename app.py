#!/usr/bin/env python3
"""CDK entry point: `cdk synth -c env=dev` (default: demo) builds the stack Vigil-<env> (infra.synth)."""

import sys

from infra.synth import main

if __name__ == "__main__":
    sys.exit(main())
