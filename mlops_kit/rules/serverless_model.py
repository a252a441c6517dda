"""KitSageMaker-ServerlessVpcModel: a serverless variant never serves a model created with VpcConfig.

Serverless inference supports no VPC configuration and no network isolation; a model created
with ``VpcConfig`` fails behind a serverless variant, or worse, a flow that "fixes" it drops the
VPC from a model that production also serves.
(https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html)

Pairs variants with models as ``_endpoints`` describes: in a stack, a variant whose
``ModelName`` refers to an ``AWS::SageMaker::Model`` of the same stack; in a deploy flow, a
``createEndpointConfig`` variant with the same ``ModelName`` expression as a ``createModel``
call. A model the rule cannot see (another stack, a name from the event) is N/A here: it is
checked where it is created.
"""

from __future__ import annotations

from aws_cdk import CfnResource
from cdk_nag import NagRuleCompliance

from mlops_kit.rules._base import Result, Rule, findings, properties
from mlops_kit.rules._endpoints import ENDPOINT_CONFIG, has_model_vpc, is_serverless, template_model, variants
from mlops_kit.rules._flows import STATE_MACHINE, sagemaker_calls


def check(node: CfnResource) -> Result:
    missing: list[str] = []
    if node.cfn_resource_type == ENDPOINT_CONFIG:
        for index, variant in enumerate(variants(properties(node))):
            model = template_model(node, variant.get("ModelName")) if is_serverless(variant) else None
            if model is not None and has_model_vpc(properties(model)):
                missing.append(f"ProductionVariants/{index}/ModelName")
        return findings(missing)
    models = {str(call.parameters.get("ModelName")): call for call in sagemaker_calls(node, "createModel")}
    configs = sagemaker_calls(node, "createEndpointConfig")
    if not models or not configs:
        return NagRuleCompliance.NOT_APPLICABLE
    for call in configs:
        for variant in variants(call.parameters):
            served = models.get(str(variant.get("ModelName"))) if is_serverless(variant) else None
            if served is not None and has_model_vpc(served.parameters):
                missing.append(f"{call.state}/{variant.get('VariantName', 'variant')}")
    return findings(missing)


RULE = Rule(
    id="ServerlessVpcModel",
    resource_types=frozenset({ENDPOINT_CONFIG, STATE_MACHINE}),
    info="A serverless endpoint variant serves a model created with VpcConfig.",
    explanation=(
        "Serverless inference takes no VPC configuration or network isolation, so it cannot serve a model created "
        "with VpcConfig. Fix: serve the VPC model from an instance-backed variant (InstanceType, InitialInstanceCount, "
        "KmsKeyId), or create a separate model without VpcConfig for the serverless variant, chosen deliberately."
    ),
    check=check,
)
