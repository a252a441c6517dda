"""Which models an endpoint config serves, for the rules that pair models with variants.

A serverless variant takes no VPC and no network isolation, so a model it serves must be
created without ``VpcConfig`` (and a VPC model must go to an instance variant). In a template
a variant names its model by ``Fn::GetAtt``/``Ref`` to an ``AWS::SageMaker::Model`` of the same
stack or by its literal name; in a deploy flow, by the same ``ModelName`` expression the
``createModel`` call used (both are written from one helper in the kit's flow).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnResource
from cdk_nag import NagRules

from mlops_kit.rules._base import as_list, dig, properties, stack_resources

MODEL = "AWS::SageMaker::Model"
ENDPOINT_CONFIG = "AWS::SageMaker::EndpointConfig"


def variants(config: dict[str, Any]) -> list[dict[str, Any]]:
    """Production and shadow variants of an endpoint config (template or API shape)."""
    found = [*as_list(config.get("ProductionVariants")), *as_list(config.get("ShadowProductionVariants"))]
    return [variant for variant in found if isinstance(variant, dict)]


def is_serverless(variant: dict[str, Any]) -> bool:
    return variant.get("ServerlessConfig") is not None


def model_key(node: CfnResource, name: object) -> str:
    """A variant's ModelName as the logical ID it refers to, or the literal name."""
    return str(NagRules.resolve_resource_from_intrinsic(node, name))


def template_model(node: CfnResource, name: object) -> CfnResource | None:
    """The ``AWS::SageMaker::Model`` of the stack that a variant's ModelName refers to, if any."""
    key = model_key(node, name)
    for model in stack_resources(node, MODEL):
        if model_key(model, model.logical_id) == key or properties(model).get("ModelName") == key:
            return model
    return None


def only_serverless(serving: list[dict[str, Any]]) -> bool:
    """Served, and only by serverless variants: the one case where a model must have no VpcConfig."""
    return bool(serving) and all(is_serverless(variant) for variant in serving)


def template_variants(model: CfnResource) -> list[dict[str, Any]]:
    """The variants of the stack's endpoint configs that serve this template model."""
    return [
        variant
        for config in stack_resources(model, ENDPOINT_CONFIG)
        for variant in variants(properties(config))
        if template_model(config, variant.get("ModelName")) is model
    ]


def flow_variants(configs: list[dict[str, Any]], model_name: object) -> list[dict[str, Any]]:
    """The variants of a flow's createEndpointConfig calls naming ``model_name`` (same expression)."""
    return [variant for config in configs for variant in variants(config) if variant.get("ModelName") == model_name]


def has_model_vpc(parameters: dict[str, Any]) -> bool:
    return dig(parameters, "VpcConfig") is not None
