"""jsii's Node version banners, silenced before its Node process starts.

On Node 20 (end of life) jsii writes a framed notice to stderr each time `import aws_cdk` starts
its Node process, which Python shows as raw bytes in the middle of synth's output. vigil runs on
Node 20 and asks for 22 or 24 (README, Prerequisites; docs/operations.md); the notice adds
nothing to that. jsii reads these variables only when its process starts, so they are set when
`infra` is first imported: every import of aws_cdk in vigil goes through an `infra` module.
"""

from __future__ import annotations

from collections.abc import MutableMapping

DEPRECATED = "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION"
END_OF_LIFE = "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"  # a comma-separated list of Node majors
END_OF_LIFE_MAJORS = ("18", "20")


def quiet_node_banners(environ: MutableMapping[str, str]) -> None:
    """Set the variables that silence jsii's banners, keeping any majors the user listed."""
    environ.setdefault(DEPRECATED, "1")
    listed = [major.strip() for major in environ.get(END_OF_LIFE, "").split(",") if major.strip()]
    environ[END_OF_LIFE] = ",".join(listed + [m for m in END_OF_LIFE_MAJORS if m not in listed])
