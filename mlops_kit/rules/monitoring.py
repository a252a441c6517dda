"""KitSageMaker-MonitoringSecurity: Model Monitor jobs run in the VPC, isolated, with encrypted volumes and reports.

A monitoring schedule starts a processing job on every run; its ``NetworkConfig`` (VpcConfig,
EnableNetworkIsolation) and KMS keys (``VolumeKmsKeyId`` of the cluster, ``KmsKeyId`` of the
output) are those of the job definition, inline (``MonitoringJobDefinition``) or separate
(``AWS::SageMaker::DataQualityJobDefinition`` and its model-quality, bias and explainability
siblings, whose output config is ``<Kind>JobOutputConfig``). The job reads captured endpoint
data, so it is held to the same bar as a pipeline's processing step.
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-sagemaker-monitoringschedule-monitoringjobdefinition.html,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-sagemaker-dataqualityjobdefinition.html)

Read from those resources and from ``createMonitoringSchedule`` / ``create*JobDefinition`` calls
in Step Functions definitions (a deploy flow schedules monitoring at run time). A schedule that
names a separate job definition is checked there. Tokens: keys and VPC lists that resolve to
intrinsics or ``.$`` paths count as set; an isolation token counts as compliant.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnResource
from cdk_nag import NagRuleCompliance

from mlops_kit.rules._base import Result, Rule, dig, findings, has_vpc, is_true, properties
from mlops_kit.rules._flows import STATE_MACHINE, sagemaker_calls

SCHEDULE = "AWS::SageMaker::MonitoringSchedule"
_DEFINITIONS = {
    "AWS::SageMaker::DataQualityJobDefinition": "DataQuality",
    "AWS::SageMaker::ModelQualityJobDefinition": "ModelQuality",
    "AWS::SageMaker::ModelBiasJobDefinition": "ModelBias",
    "AWS::SageMaker::ModelExplainabilityJobDefinition": "ModelExplainability",
}


def _job(prefix: str, job: Any, *, output: str, resources: str) -> list[str]:
    missing = []
    if not has_vpc(dig(job, "NetworkConfig", "VpcConfig")):
        missing.append(f"{prefix}NetworkConfig/VpcConfig")
    if not is_true(dig(job, "NetworkConfig", "EnableNetworkIsolation")):
        missing.append(f"{prefix}NetworkConfig/EnableNetworkIsolation")
    if dig(job, resources, "ClusterConfig", "VolumeKmsKeyId") in (None, ""):
        missing.append(f"{prefix}{resources}/ClusterConfig/VolumeKmsKeyId")
    if dig(job, output, "KmsKeyId") in (None, ""):
        missing.append(f"{prefix}{output}/KmsKeyId")
    return missing


def _schedule(prefix: str, schedule: dict[str, Any]) -> list[str]:
    job = dig(schedule, "MonitoringScheduleConfig", "MonitoringJobDefinition")
    if job is None:
        return []
    return _job(f"{prefix}MonitoringJobDefinition/", job, output="MonitoringOutputConfig", resources="MonitoringResources")


def check(node: CfnResource) -> Result:
    kind = node.cfn_resource_type
    if kind == SCHEDULE:
        return findings(_schedule("", properties(node)))
    if kind in _DEFINITIONS:
        return findings(_job("", properties(node), output=f"{_DEFINITIONS[kind]}JobOutputConfig", resources="JobResources"))
    schedules = sagemaker_calls(node, "createMonitoringSchedule")
    definitions = [(name, call) for name in _DEFINITIONS.values() for call in sagemaker_calls(node, f"create{name}JobDefinition")]
    if not schedules and not definitions:
        return NagRuleCompliance.NOT_APPLICABLE
    missing: list[str] = []
    for call in schedules:
        missing += _schedule(f"{call.state}/", call.parameters)
    for name, call in definitions:
        missing += _job(f"{call.state}/", call.parameters, output=f"{name}JobOutputConfig", resources="JobResources")
    return findings(missing)


RULE = Rule(
    id="MonitoringSecurity",
    resource_types=frozenset({SCHEDULE, STATE_MACHINE, *_DEFINITIONS}),
    info="A Model Monitor job runs outside the VPC, without network isolation, or without KMS keys.",
    explanation=(
        "Monitoring jobs read the endpoint's captured requests and responses: outside the VPC or with network access "
        "they can move that data anywhere, and without VolumeKmsKeyId and output KmsKeyId it lands under AWS-managed "
        "keys. Fix: give the job definition NetworkConfig with the platform's VpcConfig and EnableNetworkIsolation "
        "true, the cluster's VolumeKmsKeyId and the output config's KmsKeyId (the kit's data key)."
    ),
    check=check,
)
