"""vigil's synth side: catalog loading, the CDK stack and the command line.

The runtime package `vigil` lives in lambdas/ (it is what the Lambda functions ship); make it
importable here so synth validates the catalog with the very models the checkers use.
"""

import os
import sys
from pathlib import Path

from infra.jsii_env import quiet_node_banners

_LAMBDAS = str(Path(__file__).resolve().parent.parent / "lambdas")
if _LAMBDAS not in sys.path:
    sys.path.insert(0, _LAMBDAS)

# Before any module here imports aws_cdk (which starts jsii's Node process).
quiet_node_banners(os.environ)
