"""Local AWS for the demo and the deploy smoke test: moto_server plus the pinned CDK CLI.

Three reusable pieces, importable from non-test code (the `make demo` path uses them too):

- `start_moto_server()`: a context manager that runs `moto_server` on 127.0.0.1 on a free port,
  waits until it answers, yields the endpoint URL and always stops the process (whole process
  group), even when the body raises.
- `cdk(args, endpoint=...)`: runs the pinned CLI (node_modules/.bin/cdk) against that endpoint
  with test credentials, moto's default account, and no notices, telemetry or approval prompts.
  `bootstrap()` and `deploy()` wrap the two commands the demo needs.
- `deployed_resources(endpoint, stack)`: what moto's CloudFormation made of the template:
  stack status, resources created, and the template resources moto skipped (by type).

moto quirks handled here (moto 5.2.5, aws-cdk CLI 2.1148.1):

- The endpoint URL uses the host name `localhost`, not `127.0.0.1`. With `AWS_ENDPOINT_URL` set,
  the CLI passes CloudFormation a path-style TemplateURL on the endpoint
  (`http://<host>:<port>/<bucket>/<key>`); moto only reads the bucket from the path when the URL
  contains "localhost", otherwise it takes the first label of the host name ("127") as the bucket
  and CreateChangeSet fails with NoSuchBucket.
- moto's CloudFormation accepts resource types it cannot create and reports them in
  ListStackResources with an empty logical ID and type; the stack still reaches CREATE_COMPLETE.
  `deployed_resources()` lists them (for vigil: SNS subscriptions, topic and queue policies,
  Lambda EventInvokeConfig, Scheduler schedules and schedule groups, CDK metadata).
- moto_server runs with three patches (`_patch_moto()`, pinned to moto 5.2.5): tagged KMS keys
  (moto crashes on CloudFormation-style tags), a CloudFormation model for CloudWatch alarms
  (moto has none, and a dashboard's GetAtt on an alarm's Arn then fails the deploy), and
  generated S3 bucket names kept within 63 characters (moto overruns them for long logical IDs).
- `cdk bootstrap` does not accept `--require-approval` (it warns and ignores it), so only
  `deploy` gets it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
CDK_BIN = REPO_ROOT / "node_modules" / ".bin" / "cdk"
CDK_QUALIFIER = "hnb659fds"  # the CLI's default bootstrap qualifier

# Variables that could point the CLI or boto3 at a real account; never passed through.
_SCRUBBED_ENV = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


class LocalAwsError(RuntimeError):
    """moto_server did not start, or a CDK CLI command failed."""


# --------------------------------------------------------------------------------------------
# moto_server
# --------------------------------------------------------------------------------------------


def _moto_python() -> str:
    """A Python interpreter with moto[server] installed: this one, or the repo's .venv."""
    if importlib.util.find_spec("moto") is not None:
        return sys.executable
    venv_python = REPO_ROOT / ".venv" / "bin" / "python"
    if venv_python.exists():
        return str(venv_python)
    raise LocalAwsError("moto is not installed: install requirements-dev.txt")


def _patch_moto() -> None:
    """Work around moto 5.2.5 bugs that break CloudFormation deploys of CDK templates.

    - AWS::KMS::Key with Tags: moto hands CloudFormation's tags ({Key, Value}) to the KMS tagger,
      which expects {TagKey, TagValue}; ExecuteChangeSet then fails with KeyError 'TagKey' (HTTP 500),
      and every later ListStackResources on the stack fails the same way. CDK tags every taggable
      resource (Tags.of(stack).add), so any tagged stack with a KMS key hits it.
    """
    from moto.kms.models import Key

    original = Key.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_from_cloudformation_json(
        cls: type[Key],
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Key:
        properties = dict(cloudformation_json.get("Properties", {}))
        tags = properties.get("Tags") or []
        if tags and all("Key" in tag for tag in tags):
            properties["Tags"] = [{"TagKey": tag["Key"], "TagValue": tag["Value"]} for tag in tags]
            cloudformation_json = {**cloudformation_json, "Properties": properties}
        return original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)  # type: ignore[no-any-return]

    Key.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)  # type: ignore[method-assign,assignment]
    _register_cfn_alarm()
    _bound_generated_bucket_names()
    from infra import moto_paging  # moto is imported only in the server's process

    moto_paging.register()


def _bound_generated_bucket_names() -> None:
    """A bucket without BucketName gets a generated one; moto's overruns S3's 63 characters when
    the logical ID is long (CDK's nested construct paths make long ones), and S3 then rejects it
    as InvalidBucketName. CloudFormation itself shortens the parts; so does this."""
    from moto.cloudformation import parsing

    original = parsing.generate_resource_name

    def generate_resource_name(resource_type: str, stack_name: str, logical_id: str) -> str:
        if resource_type != "AWS::S3::Bucket":
            return original(resource_type, stack_name, logical_id)
        suffix = original(resource_type, "", "x").rsplit("-", 1)[-1]
        return f"{stack_name[:20]}-{logical_id[: 63 - 20 - 2 - len(suffix)]}-{suffix}".lower()

    parsing.generate_resource_name = generate_resource_name


def _register_cfn_alarm() -> None:
    """AWS::CloudWatch::Alarm in moto's CloudFormation, through CloudWatch's PutMetricAlarm.

    moto 5.2.5 has no CloudFormation model for alarms: it skips them, and a template that reads
    an alarm's Arn (a CDK dashboard's alarm widgets do) fails with "Fn::GetAtt references
    undefined resource". Registering a model creates the alarms in moto's CloudWatch, so the demo
    can describe them and set their state.
    """
    from moto.cloudformation import parsing
    from moto.cloudwatch.models import Dimension, Metric, MetricDataQuery, MetricStat, cloudwatch_backends
    from moto.core.common_models import CloudFormationModel

    def queries(metrics: list[dict[str, Any]] | None) -> list[MetricDataQuery] | None:
        if not metrics:
            return None
        result = []
        for query in metrics:
            stat = query.get("MetricStat")
            metric_stat = None
            if stat:
                metric = stat.get("Metric", {})
                dims = [Dimension(d.get("Name"), d.get("Value")) for d in metric.get("Dimensions", [])]
                metric_stat = MetricStat(
                    metric=Metric(metric.get("MetricName"), metric.get("Namespace"), dims),
                    period=stat.get("Period"),
                    stat=stat.get("Stat"),
                    unit=stat.get("Unit"),
                )
            result.append(
                MetricDataQuery(
                    query_id=query.get("Id", ""),
                    label=query.get("Label", ""),
                    period=query.get("Period", ""),
                    return_data=query.get("ReturnData", ""),
                    expression=query.get("Expression"),
                    metric_stat=metric_stat,
                )
            )
        return result

    class CfnAlarm(CloudFormationModel):
        __module__ = "moto.cloudwatch.cfn_alarm"  # moto's model registry keys models by service module

        def __init__(self, name: str, arn: str) -> None:
            self.name = name
            self.arn = arn

        @property
        def physical_resource_id(self) -> str:
            return self.name

        @staticmethod
        def cloudformation_name_type() -> str:
            return "AlarmName"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::CloudWatch::Alarm"

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr == "Arn"

        def get_cfn_attribute(self, attribute_name: str) -> str:
            if attribute_name == "Arn":
                return self.arn
            raise KeyError(attribute_name)

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
            cls,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> CfnAlarm:
            props = cloudformation_json.get("Properties", {})
            name = props.get("AlarmName", resource_name)
            alarm = cloudwatch_backends[account_id][region_name].put_metric_alarm(
                name=name,
                namespace=props.get("Namespace"),
                metric_name=props.get("MetricName"),
                metric_data_queries=queries(props.get("Metrics")),
                comparison_operator=props.get("ComparisonOperator"),
                evaluation_periods=int(props.get("EvaluationPeriods", 1)),
                datapoints_to_alarm=int(props["DatapointsToAlarm"]) if "DatapointsToAlarm" in props else None,
                period=int(props["Period"]) if "Period" in props else None,  # type: ignore[arg-type]
                threshold=float(props["Threshold"]) if "Threshold" in props else None,  # type: ignore[arg-type]
                statistic=props.get("Statistic"),
                extended_statistic=props.get("ExtendedStatistic"),
                description=props.get("AlarmDescription"),
                dimensions=props.get("Dimensions", []),
                alarm_actions=props.get("AlarmActions", []),
                ok_actions=props.get("OKActions", []),
                insufficient_data_actions=props.get("InsufficientDataActions", []),
                unit=props.get("Unit"),
                actions_enabled=str(props.get("ActionsEnabled", True)).lower() == "true",
                treat_missing_data=props.get("TreatMissingData"),
                evaluate_low_sample_count_percentile=props.get("EvaluateLowSampleCountPercentile"),
                threshold_metric_id=props.get("ThresholdMetricId"),
                tags=[{"Key": t["Key"], "Value": t["Value"]} for t in props.get("Tags", [])],
            )
            return cls(name, alarm.alarm_arn)

        @classmethod
        def update_from_cloudformation_json(  # type: ignore[override]
            cls,
            original_resource: CfnAlarm,
            new_resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
        ) -> CfnAlarm:
            if new_resource_name != original_resource.name:
                cloudwatch_backends[account_id][region_name].delete_alarms([original_resource.name])
            return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

        @classmethod
        def delete_from_cloudformation_json(  # type: ignore[override]
            cls,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
        ) -> None:
            cloudwatch_backends[account_id][region_name].delete_alarms([resource_name])

    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()
    assert parsing.get_model_map()["AWS::CloudWatch::Alarm"] is CfnAlarm


def serve(argv: Sequence[str] | None = None) -> None:
    """moto_server with the patches above (`python -m infra.local_aws -H 127.0.0.1 -p 5000`)."""
    from moto.server import main

    _patch_moto()
    main(list(argv) if argv is not None else sys.argv[1:])


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return 200 <= response.status < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except (urllib.error.URLError, OSError):
        return False


def _stop_process_group(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left; reap the leader."""
    if proc.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
    # The group may outlive its leader (children of a reloader, for instance): kill it regardless.
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    if proc.poll() is None:
        proc.wait(timeout=grace)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@contextmanager
def start_moto_server(
    *,
    port: int | None = None,
    log_path: Path | None = None,
    startup_timeout: float = 30.0,
    attempts: int = 3,
    patched: bool = True,
) -> Iterator[str]:
    """Run moto_server on 127.0.0.1 and yield its endpoint URL (``http://localhost:<port>``).

    The server runs in its own process group, which is terminated (then killed) on exit,
    whatever happens in the body. Its output goes to `log_path` (a temporary file by default,
    deleted afterwards); the log's tail is included in the error if it fails to start.
    `patched`: run moto with the workarounds of `_patch_moto()` (default) or as released.
    """
    own_log = log_path is None
    if log_path is None:
        fd, name = tempfile.mkstemp(prefix="moto_server-", suffix=".log")
        os.close(fd)
        log_path = Path(name)
    proc: subprocess.Popen[bytes] | None = None
    try:
        last_error = ""
        for _ in range(max(1, attempts)):
            chosen = port or free_port()
            with open(log_path, "ab") as log:
                command = (
                    [_moto_python(), "-m", "infra.local_aws"] if patched else [_moto_python(), "-m", "moto.server"]
                )
                proc = subprocess.Popen(
                    [*command, "-H", "127.0.0.1", "-p", str(chosen)],
                    cwd=REPO_ROOT,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            probe = f"http://127.0.0.1:{chosen}/moto-api/"
            deadline = time.monotonic() + startup_timeout
            while time.monotonic() < deadline and proc.poll() is None and not _answers(probe):
                time.sleep(0.1)
            if proc.poll() is None and _answers(probe):
                break
            last_error = f"moto_server on port {chosen} did not answer (exit code {proc.poll()})"
            _stop_process_group(proc)
            proc = None
            if port:  # a fixed port is not retried
                break
        if proc is None:
            raise LocalAwsError(f"{last_error}\n{_tail(log_path)}")
        yield f"http://localhost:{chosen}"
    finally:
        if proc is not None:
            _stop_process_group(proc)
        if own_log:
            log_path.unlink(missing_ok=True)


def reset_moto(endpoint: str) -> None:
    """Drop every resource in the running moto_server (POST /moto-api/reset)."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=10):
        pass


def aws_env(endpoint: str) -> dict[str, str]:
    """Environment variables that point AWS SDKs (boto3, the CLI's JS SDK) at moto."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def client(service: str, endpoint: str) -> Any:
    """A boto3 client for `service` on the moto endpoint, with test credentials."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


# --------------------------------------------------------------------------------------------
# CDK CLI
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CdkRun:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def cdk_env(endpoint: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for the pinned CLI (and the app it synthesizes) against moto."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if k not in _SCRUBBED_ENV}
    env.update(aws_env(endpoint))
    env.update(
        {
            "CDK_DEFAULT_ACCOUNT": ACCOUNT,
            "CDK_DEFAULT_REGION": REGION,
            "CDK_DISABLE_CLI_TELEMETRY": "true",
            "CDK_DISABLE_VERSION_CHECK": "true",
            # jsii (the Python app's node runtime) on node 20: two separate warnings.
            "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
            # The CLI's AWS SDK warns about node 20 on every run.
            "NODE_NO_WARNINGS": "1",
        }
    )
    # The app command in cdk.json is ".venv/bin/python app.py": keep the venv first on PATH too.
    venv_bin = str(REPO_ROOT / ".venv" / "bin")
    env["PATH"] = os.pathsep.join([venv_bin, env.get("PATH", "")])
    return env


def cdk(
    args: Sequence[str],
    *,
    endpoint: str,
    cwd: Path = REPO_ROOT,
    timeout: float = 900.0,
    check: bool = True,
    echo: bool = False,
) -> CdkRun:
    """Run `node_modules/.bin/cdk <args> --no-notices --ci` against moto; raise on failure if `check`."""
    if not CDK_BIN.exists():
        raise LocalAwsError(f"{CDK_BIN} missing: run `npm ci` in {REPO_ROOT}")
    argv = [str(CDK_BIN), *args, "--no-notices", "--ci"]
    started = time.monotonic()
    proc = subprocess.run(
        argv,
        cwd=cwd,
        env=cdk_env(endpoint),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    run = CdkRun(tuple(args), proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)
    if echo:
        sys.stdout.write(run.output)
    if check and run.returncode != 0:
        raise LocalAwsError(f"cdk {' '.join(args)} failed with exit code {run.returncode}:\n{run.output[-8000:]}")
    return run


def bootstrap(endpoint: str, *, echo: bool = False) -> CdkRun:
    """`cdk bootstrap aws://123456789012/us-east-1` (modern template: assets bucket, roles, SSM version).

    Runs in an empty temporary directory: next to a cdk.json the CLI synthesizes the app first
    (about 15 s here, and it writes cdk.out/), although an explicit environment needs no app.
    """
    with tempfile.TemporaryDirectory(prefix="cdk-bootstrap-") as empty:
        return cdk(["bootstrap", f"aws://{ACCOUNT}/{REGION}"], endpoint=endpoint, cwd=Path(empty), echo=echo)


def deploy(
    endpoint: str,
    stack: str,
    *,
    app: str | Path | None = None,
    output_dir: Path | None = None,
    context: Mapping[str, str] | None = None,
    extra_args: Sequence[str] = (),
    cwd: Path = REPO_ROOT,
    echo: bool = False,
) -> CdkRun:
    """`cdk deploy <stack>` without approval prompts.

    `app`: an app command or a synthesized cloud assembly directory (default: cdk.json's app).
    `output_dir`: where the CLI synthesizes to (keep the repo's cdk.out untouched in tests).
    """
    args = ["deploy", stack, "--require-approval", "never"]
    if app is not None:
        args += ["--app", str(app)]
    if output_dir is not None:
        args += ["--output", str(output_dir)]
    for key, value in (context or {}).items():
        args += ["--context", f"{key}={value}"]
    args += list(extra_args)
    return cdk(args, endpoint=endpoint, cwd=cwd, echo=echo)


# --------------------------------------------------------------------------------------------
# What moto made of the template
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeployedResource:
    logical_id: str
    resource_type: str
    physical_id: str
    status: str


@dataclass(frozen=True)
class DeploySummary:
    stack: str
    status: str
    template: dict[str, str]  # logical ID -> type, from the deployed template
    deployed: dict[str, DeployedResource] = field(default_factory=dict)

    @property
    def missing(self) -> dict[str, str]:
        """Template resources moto's CloudFormation did not create (logical ID -> type)."""
        return {lid: rtype for lid, rtype in self.template.items() if lid not in self.deployed}

    @property
    def missing_types(self) -> list[str]:
        return sorted(set(self.missing.values()))

    def counts_by_type(self) -> dict[str, tuple[int, int]]:
        """type -> (created, in template)."""
        counts: dict[str, tuple[int, int]] = {}
        for lid, rtype in sorted(self.template.items(), key=lambda item: item[1]):
            created, total = counts.get(rtype, (0, 0))
            counts[rtype] = (created + (lid in self.deployed), total + 1)
        return counts

    def format(self) -> str:
        lines = [
            f"stack {self.stack}: {self.status}; {len(self.deployed)} of {len(self.template)} template resources created",
        ]
        for rtype, (created, total) in self.counts_by_type().items():
            mark = "" if created == total else "   <- not created by moto"
            lines.append(f"  {created:>3}/{total:<3} {rtype}{mark}")
        if self.missing_types:
            lines.append("moto did not create: " + ", ".join(self.missing_types))
        return "\n".join(lines)


def _template_body(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    text = str(raw)
    try:
        return dict(json.loads(text))
    except json.JSONDecodeError:
        import yaml

        return dict(yaml.safe_load(text))


def deployed_resources(endpoint: str, stack: str, template: Mapping[str, Any] | Path | None = None) -> DeploySummary:
    """Compare a deployed stack's resources in moto with its template's resources.

    `template`: the template dict or file; by default the template CloudFormation holds for the stack.
    moto lists resources it could not create with an empty logical ID; those count as missing.
    """
    cfn = client("cloudformation", endpoint)
    status = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
    if template is None:
        body = _template_body(cfn.get_template(StackName=stack)["TemplateBody"])
    elif isinstance(template, Path):
        body = _template_body(template.read_text())
    else:
        body = dict(template)
    template_types = {lid: str(res.get("Type", "")) for lid, res in body.get("Resources", {}).items()}

    deployed: dict[str, DeployedResource] = {}
    paginator = cfn.get_paginator("list_stack_resources")
    for page in paginator.paginate(StackName=stack):
        for item in page["StackResourceSummaries"]:
            lid = item.get("LogicalResourceId") or ""
            if not lid:
                continue  # moto's placeholder for a resource type it does not support
            deployed[lid] = DeployedResource(
                logical_id=lid,
                resource_type=item.get("ResourceType", ""),
                physical_id=item.get("PhysicalResourceId", ""),
                status=item.get("ResourceStatus", ""),
            )
    return DeploySummary(stack=stack, status=status, template=template_types, deployed=deployed)


if __name__ == "__main__":
    serve()
