"""KitSageMaker-PipelineStepSecurity: every job a SageMaker pipeline starts runs in the VPC, isolated and encrypted.

A pipeline's Processing, Training and Transform steps start jobs at run time with the
arguments written in the definition, so CloudFormation and cdk-nag's own rules never see them.
For each step the rule asks what the job APIs offer:

- Processing (CreateProcessingJob): ``NetworkConfig.VpcConfig``, ``NetworkConfig.EnableNetworkIsolation``,
  ``ProcessingResources.ClusterConfig.VolumeKmsKeyId``, ``ProcessingOutputConfig.KmsKeyId``.
- Training (CreateTrainingJob): ``VpcConfig``, ``EnableNetworkIsolation``,
  ``EnableInterContainerTrafficEncryption``, ``ResourceConfig.VolumeKmsKeyId``, ``OutputDataConfig.KmsKeyId``.
- Transform (CreateTransformJob): ``TransformResources.VolumeKmsKeyId``, ``TransformOutput.KmsKeyId``;
  its network settings are its model's, so a Model step (CreateModel arguments) needs
  ``VpcConfig`` and ``EnableNetworkIsolation`` like any model.
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateProcessingJob.html,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTrainingJob.html,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTransformJob.html)

Steps inside a Condition step's ``IfSteps``/``ElseSteps`` are read too. The definition is read
from ``PipelineDefinitionBody`` (a string, or an ``Fn::Join`` whose tokens become a placeholder)
or, for ``PipelineDefinitionS3Location``, from the file of the ``aws_s3_assets.Asset`` in the
same stack whose object key the location names: at synth that file is already staged in the
cloud assembly (``AssetStaging.absolute_staged_path``, ``asset.<hash>.json`` in the stack's
outdir), so the rule reads what will be uploaded. A location that is no asset of the stack,
or a definition that does not parse, is N/A. Pipeline expressions (``{"Get": ...}``) and tokens
count as set; an ``EnableNetworkIsolation`` expression counts as compliant.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import AssetStaging, CfnResource, Stack
from aws_cdk import aws_s3_assets as s3_assets
from cdk_nag import NagRuleCompliance

from mlops_kit.rules._base import (
    TOKEN,
    Result,
    Rule,
    as_list,
    dig,
    findings,
    has_vpc,
    is_true,
    present,
    properties,
)

PIPELINE = "AWS::SageMaker::Pipeline"

# (step type, finding suffix, path in Arguments, what it must be): "vpc", "true" or "set".
_CHECKS: dict[str, list[tuple[str, tuple[str, ...], str]]] = {
    "Processing": [
        ("NetworkConfig/VpcConfig", ("NetworkConfig", "VpcConfig"), "vpc"),
        ("NetworkConfig/EnableNetworkIsolation", ("NetworkConfig", "EnableNetworkIsolation"), "true"),
        ("ClusterConfig/VolumeKmsKeyId", ("ProcessingResources", "ClusterConfig", "VolumeKmsKeyId"), "set"),
    ],
    "Training": [
        ("VpcConfig", ("VpcConfig",), "vpc"),
        ("EnableNetworkIsolation", ("EnableNetworkIsolation",), "true"),
        ("EnableInterContainerTrafficEncryption", ("EnableInterContainerTrafficEncryption",), "true"),
        ("ResourceConfig/VolumeKmsKeyId", ("ResourceConfig", "VolumeKmsKeyId"), "set"),
        ("OutputDataConfig/KmsKeyId", ("OutputDataConfig", "KmsKeyId"), "set"),
    ],
    "Transform": [
        ("TransformResources/VolumeKmsKeyId", ("TransformResources", "VolumeKmsKeyId"), "set"),
        ("TransformOutput/KmsKeyId", ("TransformOutput", "KmsKeyId"), "set"),
    ],
    "Model": [
        ("VpcConfig", ("VpcConfig",), "vpc"),
        ("EnableNetworkIsolation", ("EnableNetworkIsolation",), "true"),
    ],
}


def check(node: CfnResource) -> Result:
    definition = _definition(node)
    if definition is None:
        return NagRuleCompliance.NOT_APPLICABLE
    missing: list[str] = []
    for step in _steps(as_list(definition.get("Steps"))):
        arguments = step.get("Arguments")
        for suffix, path, wanted in _CHECKS.get(str(step.get("Type")), []):
            value = dig(arguments, *path)
            ok = has_vpc(value) if wanted == "vpc" else is_true(value) if wanted == "true" else present(value)
            if not ok:
                missing.append(f"Steps/{step.get('Name')}/{suffix}")
        outputs = dig(arguments, "ProcessingOutputConfig")
        if step.get("Type") == "Processing" and as_list(dig(outputs, "Outputs")) and not present(dig(outputs, "KmsKeyId")):
            missing.append(f"Steps/{step.get('Name')}/ProcessingOutputConfig/KmsKeyId")
    return findings(missing)


def _steps(steps: list[Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for step in steps:
        if not isinstance(step, dict):
            continue
        found.append(step)
        if step.get("Type") == "Condition":
            found += _steps([*as_list(dig(step, "Arguments", "IfSteps")), *as_list(dig(step, "Arguments", "ElseSteps"))])
    return found


def _definition(node: CfnResource) -> dict[str, Any] | None:
    definition = properties(node).get("PipelineDefinition")
    body = dig(definition, "PipelineDefinitionBody")
    if isinstance(body, dict) and "Fn::Join" in body:
        separator, parts = body["Fn::Join"]
        body = separator.join(part if isinstance(part, str) else TOKEN for part in parts)
    if body is None and dig(definition, "PipelineDefinitionS3Location") is not None:
        body = _asset_text(node, dig(definition, "PipelineDefinitionS3Location", "Key"))
    if not isinstance(body, str):
        return None
    try:
        document = json.loads(body)
    except json.JSONDecodeError:
        return None
    return document if isinstance(document, dict) else None


def _asset_text(node: CfnResource, key: object) -> str | None:
    """The staged file of the stack's S3 asset whose object key is ``key``."""
    stack = Stack.of(node)
    for child in stack.node.find_all():
        if isinstance(child, s3_assets.Asset) and stack.resolve(child.s3_object_key) == key:
            staging = child.node.try_find_child("Stage")
            if isinstance(staging, AssetStaging):
                path = Path(staging.absolute_staged_path)
                return path.read_text(encoding="utf-8") if path.is_file() else None
    return None


RULE = Rule(
    id="PipelineStepSecurity",
    resource_types=frozenset({PIPELINE}),
    info="A SageMaker pipeline step starts a job outside the VPC, without network isolation, or without KMS keys.",
    explanation=(
        "Pipeline steps start Processing, Training and Transform jobs at run time with the arguments in the "
        "definition: a step without VpcConfig runs in SageMaker's network, without EnableNetworkIsolation its code can "
        "reach out, without inter-container encryption distributed training talks in clear, and without "
        "VolumeKmsKeyId and output KmsKeyId data lands under AWS-managed keys. Fix: give each step the platform's "
        "network config (subnets, workload security group, isolation, inter-container encryption) and the kit's data "
        "key for volumes and outputs, as the kit's templates in mlops_kit/pipelines do; "
        "suppress a finding only for a step whose container must reach the network, with the reason."
    ),
    check=check,
)
