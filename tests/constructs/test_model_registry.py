"""ModelRegistry and ModelPackageGroup: naming, cross-account reads, approval events, grants."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match, Template

from mlops_kit.constructs.model_registry import ModelPackageGroup, ModelRegistry, model_package_group_name
from mlops_kit.errors import KitError
from tests.conftest import feature_flags


@pytest.fixture(scope="module")
def templates() -> tuple[Template, Template]:
    app = cdk.App(context=feature_flags())
    env = cdk.Environment(account="111122223333", region="eu-west-1")
    shared = cdk.Stack(app, "Shared", env=env)
    artifacts = s3.Bucket(shared, "Artifacts")
    registry = ModelRegistry(shared, "ModelRegistry", prefix="kit", reader_accounts=["444455556666"], artifacts_bucket=artifacts)
    # Tier 3: a project stack makes its own group with the registry's naming, no reference to Shared.
    project = cdk.Stack(app, "Project", env=env)
    group = registry.add_group("churn", scope=project)
    executor = iam.Role(project, "PipelineRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    approver = iam.Role(project, "Approver", assumed_by=iam.AccountRootPrincipal())
    group.grant_register(executor)
    group.grant_approve(approver)
    group.on_approved("OnApproved", target=targets.SnsTopic(sns.Topic(project, "Topic", enforce_ssl=True)))
    assert group.model_package_group_name == "kit-churn"
    return Template.from_stack(shared), Template.from_stack(project)


def test_registry_forwards_the_kits_state_changes_to_its_bus(templates: tuple[Template, Template]) -> None:
    shared, _ = templates
    shared.has_resource_properties("AWS::Events::EventBus", {"Name": "kit-model-registry"})
    shared.has_resource_properties("AWS::Events::Rule", {
        "EventPattern": {
            "source": ["aws.sagemaker"],
            "detail-type": ["SageMaker Model Package State Change"],
            "detail": {"ModelPackageGroupName": [{"prefix": "kit-"}]},
        },
        "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [Match.string_like_regexp("EventBus"), "Arn"]}})],
    })


def test_reader_accounts_may_read_model_artifacts(templates: tuple[Template, Template]) -> None:
    shared, _ = templates
    shared.has_resource_properties("AWS::S3::BucketPolicy", {
        "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Sid": "ReaderAccountsReadModelArtifacts",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
        })])},
    })


def test_group_is_created_in_the_project_stack_and_retained(templates: tuple[Template, Template]) -> None:
    shared, project = templates
    shared.resource_count_is("AWS::SageMaker::ModelPackageGroup", 0)
    project.has_resource("AWS::SageMaker::ModelPackageGroup", {
        "DeletionPolicy": "Retain",
        "Properties": Match.object_like({
            "ModelPackageGroupName": "kit-churn",
            "ModelPackageGroupPolicy": {"Statement": [
                Match.object_like({"Sid": "ReaderAccountsDescribeGroup", "Action": "sagemaker:DescribeModelPackageGroup"}),
                Match.object_like({"Sid": "ReaderAccountsReadPackages", "Action": ["sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"]}),
            ], "Version": "2012-10-17"},
        }),
    })


def test_approval_rule_filters_on_approved_and_the_group(templates: tuple[Template, Template]) -> None:
    _, project = templates
    project.has_resource_properties("AWS::Events::Rule", {
        "EventPattern": {
            "source": ["aws.sagemaker"],
            "detail-type": ["SageMaker Model Package State Change"],
            "detail": {"ModelPackageGroupName": ["kit-churn"], "ModelApprovalStatus": ["Approved"]},
        },
    })


def test_register_cannot_approve(templates: tuple[Template, Template]) -> None:
    _, project = templates
    project.has_resource_properties("AWS::IAM::Policy", {
        "Roles": [{"Ref": Match.string_like_regexp("PipelineRole")}],
        "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Action": "sagemaker:CreateModelPackage",
            "Condition": {"StringEquals": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}},
        })])},
    })
    policies = project.find_resources("AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": Match.string_like_regexp("PipelineRole")}]}})
    actions = str(policies)
    assert "sagemaker:UpdateModelPackage" not in actions


def test_approve_is_scoped_to_the_groups_packages(templates: tuple[Template, Template]) -> None:
    _, project = templates
    project.has_resource_properties("AWS::IAM::Policy", {
        "Roles": [{"Ref": Match.string_like_regexp("Approver")}],
        "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Action": "sagemaker:UpdateModelPackage",
            "Resource": "arn:aws:sagemaker:eu-west-1:111122223333:model-package/kit-churn/*",
        })])},
    })


def test_fails_if_group_name_is_invalid() -> None:
    with pytest.raises(KitError, match="model package group name 'kit-bad_name'"):
        model_package_group_name("kit", "bad_name")
    with pytest.raises(KitError, match="at most 63"):
        ModelPackageGroup(cdk.Stack(), "G", prefix="kit", project="x" * 70)
