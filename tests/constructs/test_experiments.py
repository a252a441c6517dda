"""ExperimentTracking: the managed MLflow server, its artifact store and role."""

from __future__ import annotations

import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template

from mlops_kit.constructs.experiments import ExperimentTracking
from mlops_kit.constructs.storage import SecureBucket
from mlops_kit.errors import KitError
from tests.conftest import nag_problems
from tests.constructs._tier2 import Base, base_stack


@pytest.fixture(scope="module")
def built() -> tuple[Base, ExperimentTracking, Template]:
    base = base_stack(nag=False)
    bucket = s3.Bucket(base.stack, "Artifacts", encryption=s3.BucketEncryption.KMS, encryption_key=base.key, enforce_ssl=True)
    tracking = ExperimentTracking(
        base.stack, "Experiments", prefix="kit", mode="server", artifact_bucket=bucket, encryption_key=base.key, size="Medium"
    )
    tracking.grant_access(base.role)
    return base, tracking, Template.from_stack(base.stack)


def test_tracking_server_is_sized_named_and_retained(built: tuple[Base, ExperimentTracking, Template]) -> None:
    _, _, template = built
    template.has_resource("AWS::SageMaker::MlflowTrackingServer", {
        "DeletionPolicy": "Retain",
        "Properties": Match.object_like({
            "TrackingServerName": "kit-mlflow",
            "TrackingServerSize": "Medium",
            "AutomaticModelRegistration": False,
            "ArtifactStoreUri": {"Fn::Join": ["", ["s3://", {"Ref": Match.string_like_regexp("Artifacts")}, "/mlflow"]]},
            "RoleArn": {"Fn::GetAtt": [Match.string_like_regexp("ExperimentsRole"), "Arn"]},
        }),
    })


def test_role_is_limited_to_the_mlflow_prefix(built: tuple[Base, ExperimentTracking, Template]) -> None:
    _, _, template = built
    template.has_resource_properties("AWS::IAM::Policy", {
        "Roles": [{"Ref": Match.string_like_regexp("ExperimentsRole")}],
        "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Resource": Match.array_with([{"Fn::Join": ["", [{"Fn::GetAtt": [Match.string_like_regexp("Artifacts"), "Arn"]}, "/mlflow/*"]]}]),
        })])},
    })


def test_grant_access_names_the_server(built: tuple[Base, ExperimentTracking, Template]) -> None:
    _, _, template = built
    template.has_resource_properties("AWS::IAM::Policy", {
        "Roles": [{"Ref": Match.string_like_regexp("ExecutionRole")}],
        "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Action": Match.array_with(["sagemaker:CreatePresignedMlflowTrackingServerUrl"]),
            "Resource": {"Fn::GetAtt": [Match.string_like_regexp("Experiments"), "TrackingServerArn"]},
        })])},
    })


def test_experiments_construct_is_nag_clean() -> None:
    base = base_stack()
    bucket = SecureBucket(base.stack, "Artifacts", encryption_key=base.key, access_logs_bucket=base.logs_bucket, log_prefix="artifacts").bucket
    ExperimentTracking(base.stack, "Experiments", prefix="kit", artifact_bucket=bucket, encryption_key=base.key)
    Template.from_stack(base.stack)
    assert [p for p in nag_problems(base.stack) if "/Experiments/" in p] == []


def test_fails_if_size_does_not_exist() -> None:
    base = base_stack(nag=False)
    bucket = s3.Bucket(base.stack, "B")
    with pytest.raises(KitError, match="size 'Huge' does not exist; allowed: Small, Medium, Large"):
        ExperimentTracking(base.stack, "E", prefix="kit", mode="server", artifact_bucket=bucket, encryption_key=base.key, size="Huge")


def test_app_mode_is_a_retained_mlflow_app_on_the_same_prefix_and_role() -> None:
    base = base_stack(nag=False)
    bucket = s3.Bucket(base.stack, "Artifacts", encryption=s3.BucketEncryption.KMS, encryption_key=base.key, enforce_ssl=True)
    tracking = ExperimentTracking(base.stack, "Experiments", prefix="kit", artifact_bucket=bucket, encryption_key=base.key)
    tracking.grant_access(base.role)
    template = Template.from_stack(base.stack)
    template.resource_count_is("AWS::SageMaker::MlflowTrackingServer", 0)
    template.has_resource("AWS::SageMaker::MlflowApp", {
        "DeletionPolicy": "Retain",
        "Properties": Match.object_like({
            "Name": "kit-mlflow",
            "ModelRegistrationMode": "AutoModelRegistrationDisabled",
            "ArtifactStoreUri": {"Fn::Join": ["", ["s3://", {"Ref": Match.string_like_regexp("Artifacts")}, "/mlflow"]]},
            "RoleArn": {"Fn::GetAtt": [Match.string_like_regexp("ExperimentsRole"), "Arn"]},
        }),
    })
    app_id = next(iter(template.find_resources("AWS::SageMaker::MlflowApp")))
    template.has_resource_properties("AWS::IAM::Policy", {
        "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Action": ["sagemaker-mlflow:*", "sagemaker:CreatePresignedMlflowAppUrl", "sagemaker:DescribeMlflowApp"],
            "Resource": {"Fn::GetAtt": [app_id, "Arn"]},
        })])},
    })


def test_fails_if_an_app_is_given_a_size() -> None:
    base = base_stack(nag=False)
    bucket = s3.Bucket(base.stack, "Artifacts")
    with pytest.raises(KitError, match="apply to a tracking server only"):
        ExperimentTracking(base.stack, "Experiments", prefix="kit", artifact_bucket=bucket, encryption_key=base.key, size="Small")
