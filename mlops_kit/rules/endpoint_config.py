"""KitSageMaker-EndpointConfigKms: instance variants' volumes and captured data are encrypted with the kit's key.

``KmsKeyId`` of an endpoint config encrypts the ML storage volume of its instances; it cannot
be given for a config whose variants are all serverless (there is no volume).
``DataCaptureConfig.KmsKeyId`` encrypts the captured requests and responses in S3, which are
the endpoint's live data. cdk-nag's AwsSolutions-SM2 asks for ``KmsKeyId`` on every config, which
a serverless config cannot have; this rule asks only where the key applies, and reads the
configs a deploy flow creates at run time too.
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-sagemaker-endpointconfig.html,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DataCaptureConfig.html)

Read from ``AWS::SageMaker::EndpointConfig`` and ``createEndpointConfig`` calls in Step Functions
definitions. Tokens: a key that resolves to an intrinsic or a ``.$`` path counts as set;
capture counts as on unless ``EnableCapture`` is literally false.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnResource
from cdk_nag import NagRuleCompliance

from mlops_kit.rules._base import Result, Rule, dig, findings, is_false, present, properties
from mlops_kit.rules._endpoints import ENDPOINT_CONFIG, is_serverless, variants
from mlops_kit.rules._flows import STATE_MACHINE, sagemaker_calls


def _missing(prefix: str, config: dict[str, Any]) -> list[str]:
    missing = []
    if any(not is_serverless(variant) for variant in variants(config)) and not present(config.get("KmsKeyId")):
        missing.append(f"{prefix}KmsKeyId")
    capture = config.get("DataCaptureConfig")
    if capture is not None and not is_false(dig(capture, "EnableCapture")) and not present(dig(capture, "KmsKeyId")):
        missing.append(f"{prefix}DataCaptureConfig/KmsKeyId")
    return missing


def check(node: CfnResource) -> Result:
    if node.cfn_resource_type == ENDPOINT_CONFIG:
        return findings(_missing("", properties(node)))
    calls = sagemaker_calls(node, "createEndpointConfig")
    if not calls:
        return NagRuleCompliance.NOT_APPLICABLE
    missing: list[str] = []
    for call in calls:
        missing += _missing(f"{call.state}/", call.parameters)
    return findings(missing)


RULE = Rule(
    id="EndpointConfigKms",
    resource_types=frozenset({ENDPOINT_CONFIG, STATE_MACHINE}),
    info="An endpoint config with instance variants or data capture has no customer-managed KMS key for them.",
    explanation=(
        "Instance volumes and captured inference data (requests and responses) otherwise use AWS-managed keys that "
        "the platform's key policy and audit do not govern. Fix: set KmsKeyId to the kit's data key when any variant "
        "is instance-backed, and DataCaptureConfig.KmsKeyId whenever capture is enabled."
    ),
    check=check,
)
