"""SSM parameters through which independently deployed stacks find the platform.

Tier 3 stacks read these instead of CloudFormation exports, so a project stack can be
added or removed without pinning anything in the backbone ("deadly embrace").
"""

from __future__ import annotations

from aws_cdk import aws_ssm as ssm
from constructs import Construct


def parameter_name(prefix: str, key: str) -> str:
    return f"/{prefix}/platform/{key}"


def publish(scope: Construct, prefix: str, values: dict[str, str]) -> dict[str, ssm.StringParameter]:
    """One SSM String parameter per value, with a stable construct ID per key."""
    published: dict[str, ssm.StringParameter] = {}
    for key, value in sorted(values.items()):
        construct_id = "".join(part.capitalize() for part in key.replace("/", "-").split("-")) + "Parameter"
        published[key] = ssm.StringParameter(
            scope,
            construct_id,
            parameter_name=parameter_name(prefix, key),
            string_value=value,
            description=f"{prefix} platform: {key}",
        )
    return published


def lookup(scope: Construct, prefix: str, key: str) -> str:
    """A deploy-time reference (a CloudFormation SSM parameter type); no AWS call at synth."""
    return ssm.StringParameter.value_for_string_parameter(scope, parameter_name(prefix, key))
