"""Walks synthesized templates to prove that every publisher AWS will use may publish where it is sent.

moto does not model topic or key policies, so this reads the templates the way AWS evaluates them:

- every AWS::CloudWatch::Alarm and AWS::CloudWatch::CompositeAlarm action (AlarmActions,
  OKActions, InsufficientDataActions) is CloudWatch (cloudwatch.amazonaws.com) publishing to a
  topic on behalf of that alarm, so with aws:SourceArn = the alarm's ARN and aws:SourceAccount =
  the account ("... is not authorized to perform: SNS:Publish" in the alarm's history otherwise:
  https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger, and the SNS
  developer guide's example for CloudWatch alarms, ArnLike on aws:SourceArn:
  https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html);
- every AWS::Events::Rule target that is a topic is EventBridge (events.amazonaws.com)
  publishing on behalf of that rule
  (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions);
- the topic's AWS::SNS::TopicPolicy must allow that sns:Publish (one replaces SNS's default
  policy; without one, the default policy lets the account's own services publish), and deny it
  nowhere;
- an alarm action that is an EC2 action (arn:aws:automate:<region>:ec2:recover, stop, terminate or
  reboot) is no publish: CloudWatch acts on the instance itself, with no topic or key policy. It is
  accepted explicitly, and held to CloudWatch's own rules: the alarm's metric must be an EC2
  per-instance metric (AWS/EC2 with an InstanceId dimension), and recover only on
  StatusCheckFailed_System ("Create alarms to stop, terminate, reboot, or recover an EC2
  instance": https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/UsingAlarmActions.html);
  any other target that is not a topic is a problem;
- when the topic is encrypted (KmsMasterKeyId), the key policy must let that service principal
  call kms:GenerateDataKey and kms:Decrypt ("Enable compatibility between event sources from AWS
  services and encrypted topics":
  https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services).
  CloudWatch's key request carries aws:SourceArn and aws:SourceAccount; EventBridge's does not (the
  same page: those keys are not supported in a KMS key policy for EventBridge-to-encrypted topics),
  so a condition on them in EventBridge's key statement fails, as it would on AWS.

Templates come from a cdk.out directory, nested stacks included: a Ref to a nested stack's
parameter resolves through the parent's AWS::CloudFormation::Stack resource, and a GetAtt of its
Outputs.X through the child's output. Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Split and
Fn::ImportValue are resolved to strings with a fixed account, region and partition; anything else
raises, so the walk can never pass by not understanding a template.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACCOUNT = "123456789012"
REGION = "eu-west-2"
PARTITION = "aws"
CLOUDWATCH = "cloudwatch.amazonaws.com"
EVENTBRIDGE = "events.amazonaws.com"
ALARM_TYPES = ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")
ALARM_ACTIONS = ("AlarmActions", "OKActions", "InsufficientDataActions")
EC2_ACTION = re.compile(
    r"^arn:aws[a-z-]*:automate:(?P<region>[a-z0-9-]+):ec2:(?P<action>recover|stop|terminate|reboot)$"
)
# What SNS asks of KMS for a publisher on an encrypted topic.
KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
AWS_MANAGED_SNS_KEY = "alias/aws/sns"


class Unmodelled(Exception):
    """The template uses something this walker does not understand: fail rather than guess."""


@dataclass
class Template:
    name: str  # the stack's name (the file name without .template.json / .nested.template.json)
    body: dict[str, Any]
    parent: tuple[Template, str] | None = None  # (parent template, its AWS::CloudFormation::Stack id)

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.body.get("Resources", {})

    def of_type(self, *types: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for logical_id, resource in self.resources.items():
            if resource["Type"] in types:
                yield logical_id, resource


@dataclass(frozen=True)
class Request:
    """One API call as a resource policy sees it."""

    principal: str  # a service principal
    action: str
    resource: str
    context: dict[str, str]  # condition keys present in the request (names compared case-insensitively)


@dataclass(frozen=True)
class Delivery:
    """A service publishing to a topic on behalf of one of the templates' resources."""

    what: str  # e.g. "alarm vigil-demo-x-down (AlarmActions)"
    principal: str
    source_arn: str
    target: str  # the action's resolved value: a topic ARN, if all is well


@dataclass
class Walk:
    problems: list[str] = field(default_factory=list)
    alarms: set[str] = field(default_factory=set)  # alarm ARNs whose actions were checked
    rules: set[str] = field(default_factory=set)  # rule ARNs whose topic targets were checked
    ec2_actions: set[tuple[str, str]] = field(default_factory=set)  # (alarm ARN, EC2 action ARN) accepted
    deliveries: int = 0


class Templates:
    def __init__(self, templates: list[Template], account: str = ACCOUNT, region: str = REGION) -> None:
        self.templates = templates
        self.account = account
        self.region = region
        self._exports: dict[str, tuple[Template, Any]] = {}
        self.link_exports()

    def link_exports(self) -> None:
        """Index the templates' exported outputs, for Fn::ImportValue (again once nested stacks are linked)."""
        self._exports = {
            self.resolve(template, output["Export"]["Name"]): (template, output["Value"])
            for template in self.templates
            for output in template.body.get("Outputs", {}).values()
            if "Export" in output
        }

    @classmethod
    def from_cdk_out(cls, directory: Path, account: str = ACCOUNT, region: str = REGION) -> Templates:
        """Every template in a cloud assembly directory, nested stacks linked to their parents."""
        by_file = {
            path.name: Template(path.name.split(".")[0], json.loads(path.read_text()))
            for path in sorted(directory.glob("*.template.json"))
        }
        if not by_file:
            raise FileNotFoundError(f"no *.template.json in {directory}")
        templates = cls(list(by_file.values()), account, region)
        # A nested stack's TemplateURL ends with its asset's object key; the assets manifests name
        # the template file behind each key.
        files = {
            destination["objectKey"]: asset["source"]["path"]
            for manifest in directory.glob("*.assets.json")
            for asset in json.loads(manifest.read_text()).get("files", {}).values()
            for destination in asset.get("destinations", {}).values()
        }
        for template in by_file.values():
            for logical_id, resource in template.of_type("AWS::CloudFormation::Stack"):
                url = str(templates.resolve(template, resource["Properties"]["TemplateURL"]))
                child = by_file.get(files.get(url.rsplit("/", 1)[-1], ""))
                if child is None:
                    raise Unmodelled(f"{template.name}/{logical_id}: no template for {url} in {directory}")
                child.parent = (template, logical_id)
        templates.link_exports()
        return templates

    # -- intrinsic functions -------------------------------------------------------------------

    def resolve(self, template: Template, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(template, v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, arg),) = value.items()
            if name == "Ref":
                return self._ref(template, arg)
            if name == "Fn::GetAtt":
                logical_id, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
                return self._get_att(template, logical_id, attribute)
            if name == "Fn::Join":
                separator, parts = arg
                return separator.join(str(p) for p in self.resolve(template, parts))
            if name == "Fn::Sub":
                return self._sub(template, arg)
            if name == "Fn::Select":
                index, items = arg
                return self.resolve(template, items)[int(self.resolve(template, index))]
            if name == "Fn::Split":
                separator, text = arg
                return str(self.resolve(template, text)).split(separator)
            if name == "Fn::ImportValue":
                exported = self._exports.get(self.resolve(template, arg))
                if exported is None:
                    raise Unmodelled(f"{template.name}: no stack exports {arg!r}")
                return self.resolve(*exported)
            if name.startswith("Fn::") or name == "Condition":
                raise Unmodelled(f"{template.name}: {name} is not modelled")
        return {k: self.resolve(template, v) for k, v in value.items()}

    def _sub(self, template: Template, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else arg
        values = {k: self.resolve(template, v) for k, v in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return str(values[name])
            if "." in name:
                return str(self._get_att(template, *name.split(".", 1)))
            return str(self._ref(template, name))

        return re.sub(r"\$\{([^!}][^}]*)\}", replace, text)

    def _pseudo(self, template: Template, name: str) -> str | None:
        return {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": template.name,
        }.get(name)

    def _ref(self, template: Template, name: str) -> Any:
        pseudo = self._pseudo(template, name)
        if pseudo is not None:
            return pseudo
        if name in template.resources:
            return self._physical_id(template, name)
        parameter = template.body.get("Parameters", {}).get(name)
        if parameter is None:
            raise Unmodelled(f"{template.name}: Ref to unknown {name!r}")
        if template.parent is not None:
            parent, stack_id = template.parent
            passed = parent.resources[stack_id].get("Properties", {}).get("Parameters", {})
            if name in passed:
                return self.resolve(parent, passed[name])
        if "Default" in parameter:
            return parameter["Default"]
        raise Unmodelled(f"{template.name}: parameter {name!r} has no value")

    def _get_att(self, template: Template, logical_id: str, attribute: str) -> Any:
        resource = template.resources.get(logical_id)
        if resource is None:
            raise Unmodelled(f"{template.name}: GetAtt of unknown {logical_id!r}")
        if resource["Type"] == "AWS::CloudFormation::Stack" and attribute.startswith("Outputs."):
            child = next((t for t in self.templates if t.parent == (template, logical_id)), None)
            if child is None:
                raise Unmodelled(f"{template.name}/{logical_id}: nested template not loaded")
            return self.resolve(child, child.body["Outputs"][attribute.removeprefix("Outputs.")]["Value"])
        if attribute in {"Arn", "TopicArn"}:
            return self.arn(template, logical_id)
        if attribute == "TopicName":
            return self.arn(template, logical_id).rsplit(":", 1)[1]
        return f"{self._physical_id(template, logical_id)}.{attribute}"

    # -- names and ARNs, as AWS would give them (generated names are stand-ins) ----------------

    def _name(self, template: Template, logical_id: str, prop: str) -> str:
        given = template.resources[logical_id].get("Properties", {}).get(prop)
        return str(self.resolve(template, given)) if given is not None else f"{template.name}-{logical_id}"

    def _physical_id(self, template: Template, logical_id: str) -> str:
        kind = template.resources[logical_id]["Type"]
        if kind == "AWS::SNS::Topic":  # Ref of a topic is its ARN
            return self.arn(template, logical_id)
        if kind in ALARM_TYPES:
            return self._name(template, logical_id, "AlarmName")
        if kind == "AWS::Events::Rule":
            return self._name(template, logical_id, "Name")
        if kind == "AWS::Lambda::Function":
            return self._name(template, logical_id, "FunctionName")
        return f"{template.name}-{logical_id}"

    def arn(self, template: Template, logical_id: str) -> str:
        kind = template.resources[logical_id]["Type"]
        prefix = f"arn:{PARTITION}:{{}}:{self.region}:{self.account}:"
        if kind == "AWS::SNS::Topic":
            return prefix.format("sns") + self._name(template, logical_id, "TopicName")
        if kind == "AWS::KMS::Key":
            return prefix.format("kms") + f"key/{self._physical_id(template, logical_id)}"
        if kind in ALARM_TYPES:
            return prefix.format("cloudwatch") + f"alarm:{self._physical_id(template, logical_id)}"
        if kind == "AWS::Events::Rule":
            return prefix.format("events") + f"rule/{self._physical_id(template, logical_id)}"
        if kind == "AWS::Lambda::Function":
            return prefix.format("lambda") + f"function:{self._physical_id(template, logical_id)}"
        service = kind.split("::")[1].lower()
        return prefix.format(service) + self._physical_id(template, logical_id)

    def of_type(self, *types: str) -> Iterator[tuple[Template, str, dict[str, Any]]]:
        for template in self.templates:
            for logical_id, resource in template.of_type(*types):
                yield template, logical_id, resource


# -- policy evaluation (the IAM rules a resource policy is read by) -----------------------------


def _wildcard(pattern: str, text: str, case_sensitive: bool = True) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, 0 if case_sensitive else re.IGNORECASE) is not None


def _arn_like(pattern: str, arn: str) -> bool:
    """ArnLike: each of the six colon-separated parts is matched on its own."""
    wanted, found = pattern.split(":", 5), arn.split(":", 5)
    return len(wanted) == len(found) == 6 and all(_wildcard(w, f) for w, f in zip(wanted, found, strict=True))


_OPERATORS = {
    "StringEquals": lambda want, got: want == got,
    "StringEqualsIgnoreCase": lambda want, got: want.lower() == got.lower(),
    "StringLike": _wildcard,
    "ArnEquals": lambda want, got: want == got,
    "ArnLike": _arn_like,
    "Bool": lambda want, got: want.lower() == got.lower(),
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _condition_holds(operator: str, key: str, wanted: Any, context: dict[str, str]) -> bool:
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    found = next((v for k, v in context.items() if k.lower() == key.lower()), None)
    if found is None:  # a key missing from the request: only negated and ...IfExists operators hold
        return if_exists or base in _NEGATED
    if base in _NEGATED:
        return not any(_OPERATORS[_NEGATED[base]](str(w), found) for w in _as_list(wanted))
    if base not in _OPERATORS:
        raise Unmodelled(f"condition operator {operator} is not modelled")
    return any(_OPERATORS[base](str(w), found) for w in _as_list(wanted))


def _principal_matches(statement: dict[str, Any], principal: str) -> bool:
    if "NotPrincipal" in statement:
        raise Unmodelled("NotPrincipal is not modelled")
    given = statement.get("Principal")
    if given == "*":
        return True
    if not isinstance(given, dict):
        return False
    return "*" in _as_list(given.get("AWS", [])) or principal in _as_list(given.get("Service", []))


def _listed(statement: dict[str, Any], key: str, value: str, case_sensitive: bool) -> bool:
    if key in statement:
        return any(_wildcard(p, value, case_sensitive) for p in _as_list(statement[key]))
    negated = f"Not{key}"
    if negated in statement:
        return not any(_wildcard(p, value, case_sensitive) for p in _as_list(statement[negated]))
    return False


def statement_applies(statement: dict[str, Any], request: Request) -> bool:
    return (
        _principal_matches(statement, request.principal)
        and _listed(statement, "Action", request.action, case_sensitive=False)
        and _listed(statement, "Resource", request.resource, case_sensitive=True)
        and all(
            _condition_holds(operator, key, wanted, request.context)
            for operator, keys in statement.get("Condition", {}).items()
            for key, wanted in keys.items()
        )
    )


def allows(document: dict[str, Any], request: Request) -> bool:
    """An Allow applies and no Deny does (resolved documents only)."""
    statements = _as_list(document.get("Statement", []))
    applying = [s["Effect"] for s in statements if statement_applies(s, request)]
    return "Allow" in applying and "Deny" not in applying


def sns_default_policy(topic_arn: str, account: str) -> dict[str, Any]:
    """The policy SNS gives a topic that has no TopicPolicy: the account's own principals may publish."""
    return {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["SNS:Publish", "SNS:Subscribe", "SNS:GetTopicAttributes"],
                "Resource": topic_arn,
                "Condition": {"StringEquals": {"AWS:SourceOwner": account}},
            }
        ]
    }


# -- the walk ---------------------------------------------------------------------------------


def deliveries(templates: Templates, walk: Walk) -> Iterator[Delivery]:
    """Every publish that an alarm action or a rule's topic target will make."""
    for template, logical_id, resource in templates.of_type(*ALARM_TYPES):
        arn = templates.arn(template, logical_id)
        name = arn.rsplit(":", 1)[1]
        properties = resource.get("Properties", {})
        for prop in ALARM_ACTIONS:
            for action in _as_list(templates.resolve(template, properties.get(prop, []))):
                walk.alarms.add(arn)
                if EC2_ACTION.match(str(action)):
                    problem = _ec2_action_problem(templates, resource, str(action))
                    if problem:
                        walk.problems.append(f"alarm {name} ({prop}) -> {action}: {problem}")
                    else:
                        walk.ec2_actions.add((arn, str(action)))
                    continue
                yield Delivery(f"alarm {name} ({prop})", CLOUDWATCH, arn, str(action))
    for template, logical_id, resource in templates.of_type("AWS::Events::Rule"):
        arn = templates.arn(template, logical_id)
        for target in resource.get("Properties", {}).get("Targets", []):
            destination = str(templates.resolve(template, target["Arn"]))
            if f":sns:{templates.region}:" in destination:
                walk.rules.add(arn)
                yield Delivery(
                    f"rule {arn.rsplit('/', 1)[1]} (target {target.get('Id')})", EVENTBRIDGE, arn, destination
                )


def _ec2_action_problem(templates: Templates, alarm: dict[str, Any], action: str) -> str | None:
    """What CloudWatch would refuse about an EC2 action on this alarm (see the module's notes)."""
    match = EC2_ACTION.match(action)
    assert match is not None
    properties = alarm.get("Properties", {})
    dimensions = {d["Name"] for d in properties.get("Dimensions", [])}
    if (
        alarm["Type"] != "AWS::CloudWatch::Alarm"
        or properties.get("Namespace") != "AWS/EC2"
        or "InstanceId" not in dimensions
    ):
        return "an EC2 action needs an alarm on an EC2 per-instance metric (AWS/EC2, dimension InstanceId)"
    if match["action"] == "recover" and properties.get("MetricName") != "StatusCheckFailed_System":
        return f"recover acts only on StatusCheckFailed_System, not {properties.get('MetricName')}"
    if match["region"] != templates.region:
        return f"an EC2 action in {match['region']}, not the alarm's region {templates.region}"
    return None


def walk_publishers(templates: Templates) -> Walk:
    """Checks every delivery against the topic policy and the key policy; lists what is missing."""
    walk = Walk()
    topics = {templates.arn(t, lid): (t, lid) for t, lid, _ in templates.of_type("AWS::SNS::Topic")}
    policies: dict[str, list[tuple[Template, str, dict[str, Any]]]] = {}
    for template, logical_id, resource in templates.of_type("AWS::SNS::TopicPolicy"):
        properties = templates.resolve(template, resource["Properties"])
        for topic_arn in properties["Topics"]:
            policies.setdefault(topic_arn, []).append((template, logical_id, properties["PolicyDocument"]))
    for delivery in deliveries(templates, walk):
        walk.deliveries += 1
        problem = _delivery_problem(templates, delivery, topics, policies)
        if problem:
            walk.problems.append(f"{delivery.what} -> {delivery.target}: {problem}")
    return walk


def _delivery_problem(
    templates: Templates,
    delivery: Delivery,
    topics: dict[str, tuple[Template, str]],
    policies: dict[str, list[tuple[Template, str, dict[str, Any]]]],
) -> str | None:
    if delivery.target not in topics:
        if ":sns:" in delivery.target:
            return "a topic outside these templates: its policies cannot be checked here"
        return "not an SNS topic: this walk checks SNS deliveries only"
    template, topic_id = topics[delivery.target]
    covering = policies.get(delivery.target, [])
    if len(covering) > 1:
        return f"{len(covering)} TopicPolicies cover it, and only one of them takes effect"
    document = covering[0][2] if covering else sns_default_policy(delivery.target, templates.account)
    source = {"aws:SourceArn": delivery.source_arn, "aws:SourceAccount": templates.account}
    # A service publishes over TLS and on behalf of the account that owns the source.
    publish = Request(
        delivery.principal,
        "sns:Publish",
        delivery.target,
        {**source, "aws:SecureTransport": "true", "AWS:SourceOwner": templates.account},
    )
    if not allows(document, publish):
        where = f"TopicPolicy {covering[0][1]}" if covering else "the default topic policy"
        return f"{where} grants {delivery.principal} no sns:Publish for {delivery.source_arn}"
    key_id = template.resources[topic_id].get("Properties", {}).get("KmsMasterKeyId")
    if key_id is None:
        return None
    return _key_problem(templates, delivery, str(templates.resolve(template, key_id)), source)


def _key_problem(templates: Templates, delivery: Delivery, key_ref: str, source: dict[str, str]) -> str | None:
    if key_ref == AWS_MANAGED_SNS_KEY:
        return f"encrypted with {AWS_MANAGED_SNS_KEY}, whose policy no one can change to admit {delivery.principal}"
    keys = {
        ref: (t, lid)
        for t, lid, _ in templates.of_type("AWS::KMS::Key")
        for ref in (templates.arn(t, lid), templates.resolve(t, {"Ref": lid}))
    }
    for t, _, alias in templates.of_type("AWS::KMS::Alias"):
        target = templates.resolve(t, alias["Properties"]["TargetKeyId"])
        if target in keys:
            keys[templates.resolve(t, alias["Properties"]["AliasName"])] = keys[target]
    if key_ref not in keys:
        return f"encrypted with {key_ref}, a key outside these templates: its policy cannot be checked here"
    template, key_id = keys[key_ref]
    policy = templates.resolve(template, template.resources[key_id]["Properties"]["KeyPolicy"])
    # CloudWatch's KMS request carries the alarm as source; EventBridge's carries no source keys.
    context = source if delivery.principal == CLOUDWATCH else {}
    refused = [
        action
        for action in KEY_ACTIONS
        if not allows(policy, Request(delivery.principal, action, templates.arn(template, key_id), context))
    ]
    if refused:
        return f"key {key_id} grants {delivery.principal} no {' or '.join(refused)} for {delivery.source_arn}"
    return None
