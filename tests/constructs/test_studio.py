"""Studio: VPC-only domain, idle shutdown, instance limits, profiles, lifecycle and custom image."""

from __future__ import annotations

import base64

import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

from mlops_kit.config.shared import CustomImageConfig, LifecycleConfig
from mlops_kit.constructs.studio import Studio
from mlops_kit.errors import KitError
from tests.constructs._tier2 import Base, base_stack, vpc

SCRIPT = "#!/bin/bash\necho hello\n"


def make_studio(base: Base, **overrides: object) -> Studio:
    network = vpc(base.stack)
    group = ec2.SecurityGroup(base.stack, "Sg", vpc=network, allow_all_outbound=False)
    props: dict[str, object] = dict(
        prefix="kit",
        vpc=network,
        vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        security_group=group,
        encryption_key=base.key,
        execution_role=base.role,
        instance_types=["ml.t3.medium", "ml.m5.large"],
    )
    props.update(overrides)
    return Studio(base.stack, "Studio", **props)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def built() -> tuple[Base, Studio, Template]:
    base = base_stack(nag=False)
    persona = iam.Role(base.stack, "Scientist", assumed_by=iam.AccountRootPrincipal())
    studio = make_studio(
        base,
        lifecycle_configs=[LifecycleConfig(name="pip-mirror", script=SCRIPT, default=True)],
        custom_image=CustomImageConfig(name="team-nb", tag="1.2.0"),
        tags={"kit:tier": "shared-assets"},
    )
    studio.add_user_profile("alice", persona="data_scientist", persona_role=persona)
    studio.add_user_profile("bob", persona="data_scientist", persona_role=persona, instance_types=["ml.t3.medium"])
    return base, studio, Template.from_stack(base.stack)


def test_domain_is_vpc_only_iam_encrypted_and_retained(built: tuple[Base, Studio, Template]) -> None:
    _, _, template = built
    template.has_resource("AWS::SageMaker::Domain", {
        "DeletionPolicy": "Retain",
        "Properties": Match.object_like({
            "AuthMode": "IAM",
            "AppNetworkAccessType": "VpcOnly",
            "DomainName": "kit-studio",
            "KmsKeyId": {"Fn::GetAtt": [Match.string_like_regexp("DataKey"), "Arn"]},
            "SubnetIds": Match.any_value(),
            "DomainSettings": Match.object_like({"ExecutionRoleIdentityConfig": "USER_PROFILE_NAME"}),
        }),
    })


def test_default_execution_role_and_security_group(built: tuple[Base, Studio, Template]) -> None:
    _, _, template = built
    template.has_resource_properties("AWS::SageMaker::Domain", {
        "DefaultUserSettings": Match.object_like({
            "ExecutionRole": {"Fn::GetAtt": [Match.string_like_regexp("ExecutionRole"), "Arn"]},
            "SecurityGroups": [{"Fn::GetAtt": [Match.string_like_regexp("Sg"), "GroupId"]}],
        }),
        "DefaultSpaceSettings": Match.object_like({"ExecutionRole": Match.any_value()}),
    })


def test_idle_shutdown_is_on_by_default(built: tuple[Base, Studio, Template]) -> None:
    _, _, template = built
    idle = {"AppLifecycleManagement": {"IdleSettings": {
        "LifecycleManagement": "ENABLED", "IdleTimeoutInMinutes": 60, "MinIdleTimeoutInMinutes": 60, "MaxIdleTimeoutInMinutes": 480,
    }}}
    template.has_resource_properties("AWS::SageMaker::Domain", {
        "DefaultUserSettings": Match.object_like({
            "JupyterLabAppSettings": Match.object_like(idle),
            "CodeEditorAppSettings": Match.object_like(idle),
        }),
    })


def test_notebook_sharing_is_off_by_default(built: tuple[Base, Studio, Template]) -> None:
    _, _, template = built
    template.has_resource_properties("AWS::SageMaker::Domain", {
        "DefaultUserSettings": Match.object_like({"SharingSettings": {"NotebookOutputOption": "Disabled"}}),
    })


def test_domain_tags_are_fixed_at_creation(built: tuple[Base, Studio, Template]) -> None:
    _, _, template = built
    template.has_resource_properties("AWS::SageMaker::Domain", {
        "Tags": Match.array_with([{"Key": "kit:platform", "Value": "kit"}, {"Key": "kit:tier", "Value": "shared-assets"}]),
    })


def test_instance_types_are_limited_by_an_iam_deny(built: tuple[Base, Studio, Template]) -> None:
    _, _, template = built
    template.has_resource_properties("AWS::IAM::Policy", {
        "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Sid": "StudioAppsOnlyListedInstanceTypes",
            "Effect": "Deny",
            "Action": ["sagemaker:CreateApp", "sagemaker:CreateSpace", "sagemaker:UpdateSpace"],
            "Condition": {"ForAnyValue:StringNotLike": {"sagemaker:InstanceTypes": ["ml.t3.medium", "ml.m5.large", "system"]}},
        })])},
        "Roles": [{"Ref": Match.string_like_regexp("ExecutionRole")}],
    })


def test_a_profile_can_narrow_instance_types(built: tuple[Base, Studio, Template]) -> None:
    _, _, template = built
    template.has_resource_properties("AWS::IAM::Policy", {
        "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Sid": "ProfileBobInstanceTypes",
            "Effect": "Deny",
            "Condition": {
                "ArnEquals": {"sagemaker:OwnerUserProfileArn": {"Fn::GetAtt": [Match.string_like_regexp("UserProfileBob"), "UserProfileArn"]}},
                "ForAnyValue:StringNotLike": {"sagemaker:InstanceTypes": ["ml.t3.medium", "system"]},
            },
        })])},
    })


def test_profiles_are_named_tagged_with_their_persona_and_opened_by_it(built: tuple[Base, Studio, Template]) -> None:
    _, _, template = built
    template.has_resource_properties("AWS::SageMaker::UserProfile", {
        "UserProfileName": "kit-alice",
        "DomainId": {"Fn::GetAtt": [Match.string_like_regexp("Studio"), "DomainId"]},
        "Tags": Match.array_with([{"Key": "kit:persona", "Value": "data_scientist"}]),
    })
    template.has_resource_properties("AWS::IAM::Policy", {
        "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Sid": "OpenAlice",
            "Action": "sagemaker:CreatePresignedDomainUrl",
            "Resource": {"Fn::GetAtt": [Match.string_like_regexp("UserProfileAlice"), "UserProfileArn"]},
            # the persona role is shared; only Alice's own session opens her profile
            "Condition": {"StringEquals": {"aws:SourceIdentity": "alice"}},
        })])},
        "Roles": [{"Ref": Match.string_like_regexp("Scientist")}],
    })


def test_lifecycle_config_is_base64_and_default_for_jupyterlab(built: tuple[Base, Studio, Template]) -> None:
    _, _, template = built
    template.has_resource_properties("AWS::SageMaker::StudioLifecycleConfig", {
        "StudioLifecycleConfigName": "kit-pip-mirror",
        "StudioLifecycleConfigAppType": "JupyterLab",
        "StudioLifecycleConfigContent": base64.b64encode(SCRIPT.strip().encode()).decode(),  # config strips whitespace
    })
    arn = {"Fn::GetAtt": [Match.string_like_regexp("LifecycleConfigPipMirror"), "StudioLifecycleConfigArn"]}
    template.has_resource_properties("AWS::SageMaker::Domain", {
        "DefaultUserSettings": Match.object_like({"JupyterLabAppSettings": Match.object_like({
            "LifecycleConfigArns": [arn],
            "DefaultResourceSpec": {"InstanceType": "ml.t3.medium", "LifecycleConfigArn": arn},
        })}),
    })


def test_custom_image_repository_is_immutable_scanned_encrypted(built: tuple[Base, Studio, Template]) -> None:
    _, _, template = built
    template.has_resource("AWS::ECR::Repository", {
        "DeletionPolicy": "Retain",
        "Properties": Match.object_like({
            "ImageTagMutability": "IMMUTABLE",
            "ImageScanningConfiguration": {"ScanOnPush": True},
            "EncryptionConfiguration": {"EncryptionType": "KMS", "KmsKey": {"Fn::GetAtt": [Match.string_like_regexp("DataKey"), "Arn"]}},
        }),
    })
    template.has_resource_properties("AWS::SageMaker::Image", {"ImageName": "kit-team-nb"})
    template.has_resource_properties("AWS::SageMaker::AppImageConfig", {"AppImageConfigName": "kit-team-nb-config", "JupyterLabAppImageConfig": Match.any_value()})
    template.has_resource_properties("AWS::SageMaker::ImageVersion", {"ImageName": "kit-team-nb", "BaseImage": Match.any_value()})
    template.has_resource_properties("AWS::SageMaker::Domain", {
        "DefaultUserSettings": Match.object_like({"JupyterLabAppSettings": Match.object_like({
            "CustomImages": [{"AppImageConfigName": "kit-team-nb-config", "ImageName": "kit-team-nb"}],
        })}),
    })


def test_image_without_tag_is_not_offered_yet() -> None:
    base = base_stack(nag=False)
    make_studio(base, custom_image=CustomImageConfig(name="team-nb"))
    template = Template.from_stack(base.stack)
    template.resource_count_is("AWS::SageMaker::ImageVersion", 0)
    domain = next(iter(template.find_resources("AWS::SageMaker::Domain").values()))
    assert "CustomImages" not in domain["Properties"]["DefaultUserSettings"]["JupyterLabAppSettings"]


def test_sharing_bucket_turns_encrypted_sharing_on() -> None:
    from aws_cdk import aws_s3 as s3

    base = base_stack(nag=False)
    bucket = s3.Bucket(base.stack, "Artifacts")
    make_studio(base, sharing_bucket=bucket, idle_timeout_minutes=None)
    template = Template.from_stack(base.stack)
    template.has_resource_properties("AWS::SageMaker::Domain", {
        "DefaultUserSettings": Match.object_like({
            "SharingSettings": {
                "NotebookOutputOption": "Allowed",
                "S3OutputPath": Match.any_value(),
                "S3KmsKeyId": {"Fn::GetAtt": [Match.string_like_regexp("DataKey"), "Arn"]},
            },
            "JupyterLabAppSettings": Match.object_like({"AppLifecycleManagement": {"IdleSettings": {"LifecycleManagement": "DISABLED"}}}),
        }),
    })


def test_fails_if_profile_instance_type_is_outside_the_domain_list() -> None:
    base = base_stack(nag=False)
    studio = make_studio(base)
    with pytest.raises(KitError, match=r"user profile 'carol': instance types ml\.p5\.48xlarge are not in the domain's list"):
        studio.add_user_profile("carol", persona="data_scientist", instance_types=["ml.p5.48xlarge"])


def test_fails_if_profile_is_added_twice() -> None:
    base = base_stack(nag=False)
    studio = make_studio(base)
    studio.add_user_profile("dave", persona="ml_engineer")
    with pytest.raises(KitError, match="'dave' is added twice"):
        studio.add_user_profile("dave", persona="ml_engineer")


def test_fails_if_idle_timeout_is_out_of_range() -> None:
    base = base_stack(nag=False)
    with pytest.raises(KitError, match="idle_timeout_minutes 30 must be from 60"):
        make_studio(base, idle_timeout_minutes=30)
