"""What a public (AuthType NONE) Lambda function URL must grant, as a synthesized template states it."""

from __future__ import annotations

from typing import Any


def public_url_permissions(function_id: str) -> list[dict[str, Any]]:
    """The function's AWS::Lambda::Permission properties, sorted by action: "Control access to Lambda function
    URLs" asks, for AuthType NONE, lambda:InvokeFunctionUrl for everyone and lambda:InvokeFunction only
    through the URL."""
    function = {"Fn::GetAtt": [function_id, "Arn"]}
    return [
        {"Action": "lambda:InvokeFunction", "FunctionName": function, "InvokedViaFunctionUrl": True, "Principal": "*"},
        {
            "Action": "lambda:InvokeFunctionUrl",
            "FunctionName": function,
            "FunctionUrlAuthType": "NONE",
            "Principal": "*",
        },
    ]


def permissions_of(resources: dict[str, dict[str, Any]], function_id: str) -> list[dict[str, Any]]:
    """The template's permissions on that function, sorted by action."""
    found = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Permission"
        and r["Properties"]["FunctionName"] == {"Fn::GetAtt": [function_id, "Arn"]}
    ]
    return sorted(found, key=lambda p: p["Action"])
