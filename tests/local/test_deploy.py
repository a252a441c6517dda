"""Deploy the two-stack sample app to the embedded AWS and check it with boto3 describe calls."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from mlops_kit.local import DeployResult, EmbeddedAws, deploy_assembly, destroy_stack, render_table
from mlops_kit.local.report import CLOUDFORMATION, FAILED, SERVICE_API, UNCHECKED

from .sample_app import BUCKET_PARAMETER, PIPELINE_NAME, PROJECT_GROUP_NAME, SHARED_GROUP_NAME

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def deployed(sample_assembly: Path, aws: EmbeddedAws, cdk_cli: list[str] | None) -> DeployResult:
    lines: list[str] = []
    started = time.monotonic()
    result = deploy_assembly(sample_assembly, aws, cdk_command=cdk_cli or False, progress=lines.append)
    result.progress = lines  # type: ignore[attr-defined]
    result.measured = time.monotonic() - started  # type: ignore[attr-defined]
    print("\n".join(lines))
    print(render_table(result.stacks))
    return result


def _output_of(aws: EmbeddedAws, stack: str) -> dict[str, Any]:
    return aws.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]


def test_every_stack_deploys_in_dependency_order(deployed: DeployResult) -> None:
    assert deployed.ok, render_table(deployed.stacks)
    assert [s.stack_name for s in deployed.stacks] == ["LocalNet", "LocalProject"]
    assert any(line.startswith("LocalNet: wave 1/2") for line in deployed.progress)  # type: ignore[attr-defined]
    assert deployed.bootstrap in ("cdk", "api")


def test_report_has_the_three_columns_by_type(deployed: DeployResult) -> None:
    net = deployed.stack("LocalNet")
    assert net.column(CLOUDFORMATION)["AWS::EC2::VPC"] == 1
    assert net.column(CLOUDFORMATION)["AWS::EC2::Subnet"] == 2
    assert net.column(CLOUDFORMATION)["AWS::EC2::VPCEndpoint"] == 1
    assert net.column(CLOUDFORMATION)["AWS::KMS::Key"] == 1
    assert net.column(CLOUDFORMATION)["AWS::S3::Bucket"] == 1
    assert net.column(SERVICE_API) == {"AWS::SageMaker::ModelPackageGroup": 1}
    assert net.column(UNCHECKED)["AWS::CloudFormation::CustomResource"] == 1
    assert net.column(UNCHECKED)["AWS::S3::BucketPolicy"] == 1
    assert not net.column(FAILED)
    project = deployed.stack("LocalProject")
    assert project.column(SERVICE_API) == {
        "AWS::SageMaker::ModelPackageGroup": 1,
        "AWS::SageMaker::Pipeline": 1,
    }
    assert project.column(CLOUDFORMATION) == {
        "AWS::IAM::Role": 1,
        "AWS::IAM::Policy": 1,
        "AWS::SSM::Parameter": 1,
    }
    custom = next(r for r in net.results if r.cfn_type == "AWS::CloudFormation::CustomResource")
    assert "Docker" in custom.reason


def test_network_key_bucket_role_and_parameter_exist(deployed: DeployResult, aws: EmbeddedAws) -> None:
    resources = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in aws.client("cloudformation").list_stack_resources(StackName="LocalNet")[
            "StackResourceSummaries"
        ]
    }
    ec2 = aws.client("ec2")
    vpc_id = resources["Vpc8378EB38"]
    assert ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]["CidrBlock"] == "10.0.0.0/16"
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    assert sorted(s["AvailabilityZone"] for s in subnets) == ["us-east-1a", "us-east-1b"]
    assert not any(s["MapPublicIpOnLaunch"] for s in subnets)
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["VpcEndpoints"]
    assert [e["ServiceName"] for e in endpoints] == ["com.amazonaws.us-east-1.sagemaker.api"]
    key = aws.client("kms").describe_key(KeyId=resources["DataKey17AFBB84"])["KeyMetadata"]
    assert key["Enabled"]
    bucket = resources["DataBucketE3889A50"]
    aws.client("s3").head_bucket(Bucket=bucket)
    assert aws.client("ssm").get_parameter(Name=BUCKET_PARAMETER)["Parameter"]["Value"] == bucket
    aws.client("iam").get_role(RoleName=resources["ExecutionRole605A040B"])


def test_sagemaker_resources_exist_with_resolved_properties(deployed: DeployResult, aws: EmbeddedAws) -> None:
    sagemaker = aws.client("sagemaker")
    shared = sagemaker.describe_model_package_group(ModelPackageGroupName=SHARED_GROUP_NAME)
    project = sagemaker.describe_model_package_group(ModelPackageGroupName=PROJECT_GROUP_NAME)
    pipeline = sagemaker.describe_pipeline(PipelineName=PIPELINE_NAME)
    bucket = aws.client("ssm").get_parameter(Name=BUCKET_PARAMETER)["Parameter"]["Value"]
    # The pipeline definition imported the bucket name from LocalNet's export.
    definition = json.loads(pipeline["PipelineDefinition"])
    assert definition["Parameters"][0]["DefaultValue"] == f"s3://{bucket}/in"
    assert pipeline["RoleArn"].startswith("arn:aws:iam::123456789012:role/LocalProject-PipelineRole")
    # A native resource of the second wave got the API-created group's real ARN.
    published = aws.client("ssm").get_parameter(Name="/local-test/project-group-arn")["Parameter"]["Value"]
    assert published == project["ModelPackageGroupArn"]
    # The late export (the shared group's ARN) reached the consuming stack's policy.
    role = next(
        r
        for r in aws.client("iam").list_roles()["Roles"]
        if r["RoleName"].startswith("LocalProject-PipelineRole")
    )
    policy = aws.client("iam").get_role_policy(
        RoleName=role["RoleName"], PolicyName="PipelineRoleDefaultPolicy77A82A74"
    )
    document = json.dumps(policy["PolicyDocument"])
    assert shared["ModelPackageGroupArn"] in document
    assert f"arn:aws:s3:::{bucket}/*" in document  # from the SSM parameter the stack consumed


def test_destroy_keeps_retained_bucket(deployed: DeployResult, aws: EmbeddedAws) -> None:
    bucket = aws.client("ssm").get_parameter(Name=BUCKET_PARAMETER)["Parameter"]["Value"]
    role_name = aws.client("cloudformation").describe_stack_resource(
        StackName="LocalNet", LogicalResourceId="ExecutionRole605A040B"
    )["StackResourceDetail"]["PhysicalResourceId"]
    aws.client("s3").put_object(Bucket=bucket, Key="data/keep.csv", Body=b"a,b\n1,2\n")
    project = destroy_stack(aws, "LocalProject")
    assert project.error is None, project
    net = destroy_stack(aws, "LocalNet")
    assert net.error is None, net
    assert [r.logical_id for r in net.retained] == ["DataBucketE3889A50"]
    assert net.retained[0].outcome == CLOUDFORMATION  # still found by a describe call
    assert aws.client("s3").get_object(Bucket=bucket, Key="data/keep.csv")["Body"].read() == b"a,b\n1,2\n"
    stacks = aws.client("cloudformation").list_stacks(
        StackStatusFilter=["CREATE_COMPLETE", "UPDATE_COMPLETE"]
    )
    assert not [s["StackName"] for s in stacks["StackSummaries"] if s["StackName"].startswith("Local")]
    with pytest.raises(aws.client("iam").exceptions.NoSuchEntityException):
        aws.client("iam").get_role(RoleName=role_name)
    assert not aws.client("ec2").describe_vpcs(Filters=[{"Name": "cidr", "Values": ["10.0.0.0/16"]}])["Vpcs"]
