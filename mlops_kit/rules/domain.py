"""KitSageMaker-StudioDomainVpcOnly: a Studio domain keeps its traffic in the platform's VPC, encrypted.

``AppNetworkAccessType`` defaults to ``PublicInternetOnly``: non-EFS traffic then leaves through
a SageMaker-managed VPC with internet access. ``VpcOnly`` sends all traffic through the given
VPC and subnets, internet off unless a NAT gateway is added. ``KmsKeyId`` encrypts the home EFS
volume with a customer-managed key instead of an AWS-managed one.
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-sagemaker-domain.html)

Tokens: a ``KmsKeyId``, ``VpcId`` or ``SubnetIds`` that resolves to an intrinsic (the kit's key,
VPC and subnets, often through ``Fn::ImportValue``) counts as set; an ``AppNetworkAccessType``
token is unknown at synth and counts as compliant.
"""

from __future__ import annotations

from aws_cdk import CfnResource

from mlops_kit.rules._base import Result, Rule, findings, is_runtime, present, properties


def check(node: CfnResource) -> Result:
    props = properties(node)
    missing = []
    access = props.get("AppNetworkAccessType")
    if access != "VpcOnly" and not is_runtime(access):
        missing.append("AppNetworkAccessType")
    missing.extend(key for key in ("KmsKeyId", "VpcId", "SubnetIds") if not present(props.get(key)))
    return findings(missing)


RULE = Rule(
    id="StudioDomainVpcOnly",
    resource_types=frozenset({"AWS::SageMaker::Domain"}),
    info="The Studio domain is not VPC-only with the platform's subnets and a customer-managed KMS key.",
    explanation=(
        "Without AppNetworkAccessType VpcOnly, Studio apps reach the internet through a SageMaker-managed VPC, "
        "bypassing the platform's endpoints and audit; without KmsKeyId the home EFS volume uses an AWS-managed key. "
        "Fix: set app_network_access_type='VpcOnly', vpc_id and subnet_ids to the platform's private subnets, and "
        "kms_key_id to the kit's data key (the kit's Studio construct does all three)."
    ),
    check=check,
)
