"""KitSageMaker-StudioSettings: user profiles and space defaults carry the workload security group; sharing is off or encrypted.

In a ``VpcOnly`` domain, ``SecurityGroups`` of ``UserSettings`` are what Studio apps run with;
without them an app gets the VPC's default group. ``SharingSettings`` with
``NotebookOutputOption: Allowed`` copies notebooks and their cell output to ``S3OutputPath``,
encrypted with ``S3KmsKeyId`` only when one is given.
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-sagemaker-userprofile-usersettings.html,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-sagemaker-domain-sharingsettings.html)

Checked: the domain's ``DefaultUserSettings`` and ``DefaultSpaceSettings`` and each
``AWS::SageMaker::UserProfile``'s ``UserSettings``. Tokens: a security group list or key that
resolves to an intrinsic counts as set; an unresolved ``NotebookOutputOption`` counts as off.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnResource

from mlops_kit.rules._base import Result, Rule, dig, findings, present, properties


def _settings(prefix: str, settings: Any, *, sharing: bool) -> list[str]:
    missing = []
    if not present(dig(settings, "SecurityGroups")):
        missing.append(f"{prefix}/SecurityGroups")
    shared = dig(settings, "SharingSettings")
    if sharing and dig(shared, "NotebookOutputOption") == "Allowed" and not present(dig(shared, "S3KmsKeyId")):
        missing.append(f"{prefix}/SharingSettings/S3KmsKeyId")
    return missing


def check(node: CfnResource) -> Result:
    props = properties(node)
    if node.cfn_resource_type == "AWS::SageMaker::UserProfile":
        return findings(_settings("UserSettings", props.get("UserSettings"), sharing=True))
    missing = _settings("DefaultUserSettings", props.get("DefaultUserSettings"), sharing=True)
    if props.get("DefaultSpaceSettings") is not None:
        missing += _settings("DefaultSpaceSettings", props.get("DefaultSpaceSettings"), sharing=False)
    return findings(missing)


RULE = Rule(
    id="StudioSettings",
    resource_types=frozenset({"AWS::SageMaker::Domain", "AWS::SageMaker::UserProfile"}),
    info="Studio user or space settings lack the workload security group, or share notebooks unencrypted.",
    explanation=(
        "Studio apps run with the security groups of their user settings: without them they get the VPC's default "
        "group and none of the platform's endpoint rules. Shared notebooks (NotebookOutputOption Allowed) carry cell "
        "output, often data, to S3. Fix: set security_groups to the platform's workload security group on the domain's "
        "default user and space settings and on every user profile; leave sharing Disabled or give S3KmsKeyId."
    ),
    check=check,
)
