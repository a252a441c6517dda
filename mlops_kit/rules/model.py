"""KitSageMaker-ModelVpcIsolation: a model runs in the platform's VPC with network isolation.

``VpcConfig`` puts the model's containers in the given subnets and security groups;
``EnableNetworkIsolation`` takes every outbound network call away from the container (it still
gets its model artifacts from S3 through SageMaker). AWS Config's managed rule
``sagemaker-model-isolation-enabled`` flags a model with isolation off.
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-sagemaker-model.html,
https://docs.aws.amazon.com/config/latest/developerguide/sagemaker-model-isolation-enabled.html)

Serverless inference takes neither VPC configuration nor network isolation, and cannot serve a
model created with ``VpcConfig`` (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html):
a model served only by serverless variants (of the same stack, or of the same deploy flow) is
compliant without them; ``ServerlessVpcModel`` is the rule that flags the reverse.

Read from ``AWS::SageMaker::Model`` and from ``createModel`` calls in Step Functions
definitions (``_flows``). Tokens: a ``VpcConfig`` whose lists are intrinsics counts as set; an
``EnableNetworkIsolation`` token or ``.$`` path is unknown at synth and counts as compliant.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnResource
from cdk_nag import NagRuleCompliance

from mlops_kit.rules._base import Result, Rule, findings, has_vpc, is_true, properties
from mlops_kit.rules._endpoints import MODEL, flow_variants, only_serverless, template_variants
from mlops_kit.rules._flows import STATE_MACHINE, sagemaker_calls


def _missing(prefix: str, model: dict[str, Any]) -> list[str]:
    missing = []
    if not has_vpc(model.get("VpcConfig")):
        missing.append(f"{prefix}VpcConfig")
    if not is_true(model.get("EnableNetworkIsolation")):
        missing.append(f"{prefix}EnableNetworkIsolation")
    return missing


def check(node: CfnResource) -> Result:
    if node.cfn_resource_type == MODEL:
        props = properties(node)
        if only_serverless(template_variants(node)) and props.get("VpcConfig") is None:
            return findings([])
        return findings(_missing("", props))
    models = sagemaker_calls(node, "createModel")
    if not models:
        return NagRuleCompliance.NOT_APPLICABLE
    configs = [call.parameters for call in sagemaker_calls(node, "createEndpointConfig")]
    missing: list[str] = []
    for call in models:
        if only_serverless(flow_variants(configs, call.parameters.get("ModelName"))) and call.parameters.get("VpcConfig") is None:
            continue
        missing += _missing(f"{call.state}/", call.parameters)
    return findings(missing)


RULE = Rule(
    id="ModelVpcIsolation",
    resource_types=frozenset({MODEL, STATE_MACHINE}),
    info="A SageMaker model (in the template or created by a deploy flow) lacks VpcConfig or network isolation.",
    explanation=(
        "A model container without VpcConfig runs outside the platform's VPC; without EnableNetworkIsolation it "
        "can call out to any network the endpoint reaches, which is how a poisoned model exfiltrates data. "
        "Fix: give the model (or the createModel call) VpcConfig with the platform's private subnets and workload "
        "security group, and EnableNetworkIsolation true. Only a model served solely by serverless variants goes "
        "without both; if the container truly needs the network, suppress this finding on the construct with the reason."
    ),
    check=check,
)
