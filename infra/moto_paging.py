"""CloudFormation models moto 5.2.5 lacks, for the resources repeats and acknowledgement deploy (infra/paging.py).

moto skips a resource type it has no model for, and a template that reads one (the notifier's
ACK_URL is the function URL's FunctionUrl, its ACK_SECRET_ARN the secret's Ref) then fails to
deploy: "Fn::GetAtt references undefined resource", or a variable of None. These models create
the resources in moto's own backends through their APIs, so the demo deploys the real template:

- AWS::Lambda::Url            CreateFunctionUrlConfig; Ref and FunctionUrl as AWS answers them
- AWS::SecretsManager::Secret CreateSecret with GenerateSecretString's JSON; Ref is the ARN
- AWS::Scheduler::ScheduleGroup CreateScheduleGroup; Ref is the name

Only what these templates use is modelled; an update replaces nothing (the demo deploys once).
"""

from __future__ import annotations

import json
import secrets
import string
from typing import Any

from moto.core.common_models import CloudFormationModel


class _Created:
    """A resource whose Ref and attributes are fixed when it is created (a mixin: moto lists only the
    direct subclasses of CloudFormationModel)."""

    def __init__(self, ref: str, attributes: dict[str, str]) -> None:
        self.ref = ref
        self.attributes = attributes

    @property
    def physical_resource_id(self) -> str:
        return self.ref

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self.attributes[attribute_name]


class CfnFunctionUrl(_Created, CloudFormationModel):
    __module__ = "moto.awslambda.cfn_function_url"  # moto's registry keys models by service module

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::Url"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("FunctionUrl", "FunctionArn")

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> CfnFunctionUrl:
        from moto.awslambda.models import lambda_backends

        props = cloudformation_json["Properties"]
        target = props["TargetFunctionArn"]
        config = lambda_backends[account_id][region_name].create_function_url_config(
            target, {"AuthType": props["AuthType"], "Cors": props.get("Cors")}
        )
        url = config.to_dict()["FunctionUrl"]
        return cls(config.to_dict()["FunctionArn"], {"FunctionUrl": url, "FunctionArn": target})


class CfnSecret(_Created, CloudFormationModel):
    __module__ = "moto.secretsmanager.cfn_secret"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SecretsManager::Secret"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Id"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> CfnSecret:
        from moto.secretsmanager.models import secretsmanager_backends

        props = cloudformation_json["Properties"]
        name = props.get("Name") or f"{kwargs.get('LogicalId', resource_name)}-{secrets.token_hex(4)}"
        created = secretsmanager_backends[account_id][region_name].create_secret(
            name=name,
            secret_string=props.get("SecretString") or _generated(props.get("GenerateSecretString")),
            secret_binary=None,
            description=props.get("Description"),
            tags=props.get("Tags"),
            kms_key_id=props.get("KmsKeyId"),
            client_request_token=None,
            replica_regions=[],
            force_overwrite=False,
        )
        arn = json.loads(created)["ARN"]
        return cls(arn, {"Id": arn})


def _generated(spec: dict[str, Any] | None) -> str:
    """GenerateSecretString's result: the template's JSON with one generated field (letters and digits)."""
    spec = spec or {}
    value = "".join(
        secrets.choice(string.ascii_letters + string.digits) for _ in range(int(spec.get("PasswordLength", 32)))
    )
    if "GenerateStringKey" not in spec:
        return value
    return json.dumps({**json.loads(spec.get("SecretStringTemplate") or "{}"), spec["GenerateStringKey"]: value})


class CfnScheduleGroup(_Created, CloudFormationModel):
    __module__ = "moto.scheduler.cfn_schedule_group"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Scheduler::ScheduleGroup"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> CfnScheduleGroup:
        from moto.scheduler.models import scheduler_backends

        name = cloudformation_json["Properties"].get("Name", resource_name)
        group = scheduler_backends[account_id][region_name].create_schedule_group(name, tags=[])
        return cls(name, {"Arn": group.arn})


def register() -> None:
    """Make moto's CloudFormation use these models (call before the first deploy)."""
    from moto.cloudformation import parsing

    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()
    models = parsing.get_model_map()
    for model in (CfnFunctionUrl, CfnSecret, CfnScheduleGroup):
        assert models[model.cloudformation_type()] is model
