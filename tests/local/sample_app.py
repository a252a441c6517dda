"""A small two-stack CDK app that exercises what the embedded deploy must handle.

Stack ``LocalNet``: a VPC with isolated subnets and an interface endpoint, a KMS key, a retained
S3 bucket, an IAM role, an SSM parameter, a SageMaker model package group (skipped by moto's
CloudFormation, so created through the SageMaker API) whose ARN is exported, and a Lambda-backed
custom resource (which moto could only run with Docker).

Stack ``LocalProject``: consumes ``LocalNet`` through the SSM parameter and through cross-stack
references (the bucket and the model package group ARN), and adds a SageMaker pipeline and a
second model package group.
"""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_ssm as ssm

BUCKET_PARAMETER = "/local-test/data-bucket-name"
PIPELINE_NAME = "local-test-pipeline"
SHARED_GROUP_NAME = "local-test-shared-models"
PROJECT_GROUP_NAME = "local-test-project-models"

_HANDLER = """
def handler(event, context):
    return {"PhysicalResourceId": "noop", "Data": {"Answer": "42"}}
"""


def build(outdir: Path) -> Path:
    """Synthesize the app into ``outdir`` and return the cloud assembly directory."""
    # What `cdk synth` would look up in a real account; without it the VPC gets "dummy1a" AZs.
    app = cdk.App(
        outdir=str(outdir),
        context={"availability-zones:account=123456789012:region=us-east-1": ["us-east-1a", "us-east-1b"]},
    )
    env = cdk.Environment(account="123456789012", region="us-east-1")

    net = cdk.Stack(app, "LocalNet", env=env)
    vpc = ec2.Vpc(
        net,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        ],
    )
    vpc.add_interface_endpoint("SageMakerApi", service=ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_API)
    key = kms.Key(net, "DataKey", enable_key_rotation=True, removal_policy=cdk.RemovalPolicy.DESTROY)
    bucket = s3.Bucket(
        net,
        "DataBucket",
        encryption=s3.BucketEncryption.KMS,
        encryption_key=key,
        enforce_ssl=True,
        versioned=True,
        removal_policy=cdk.RemovalPolicy.RETAIN,
    )
    role = iam.Role(net, "ExecutionRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    bucket.grant_read_write(role)
    ssm.StringParameter(
        net, "BucketNameParameter", parameter_name=BUCKET_PARAMETER, string_value=bucket.bucket_name
    )
    shared_group = sagemaker.CfnModelPackageGroup(
        net, "SharedGroup", model_package_group_name=SHARED_GROUP_NAME
    )
    fn = lambda_.Function(
        net,
        "NoopFunction",
        runtime=lambda_.Runtime.PYTHON_3_12,
        handler="index.handler",
        code=lambda_.Code.from_asset(str(_handler_dir(outdir))),
    )
    cdk.CustomResource(net, "Noop", service_token=fn.function_arn)

    project = cdk.Stack(app, "LocalProject", env=env)
    bucket_name = ssm.StringParameter.value_for_string_parameter(project, BUCKET_PARAMETER)
    project_role = iam.Role(
        project, "PipelineRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com")
    )
    project_role.add_to_policy(
        iam.PolicyStatement(actions=["s3:GetObject"], resources=[f"arn:aws:s3:::{bucket_name}/*"])
    )
    project_role.add_to_policy(
        iam.PolicyStatement(
            actions=["sagemaker:DescribeModelPackageGroup"],
            resources=[shared_group.attr_model_package_group_arn],
        )
    )
    bucket.grant_read(project_role)
    group = sagemaker.CfnModelPackageGroup(project, "Models", model_package_group_name=PROJECT_GROUP_NAME)
    definition = {
        "Version": "2020-12-01",
        "Parameters": [
            {"Name": "InputUri", "Type": "String", "DefaultValue": f"s3://{bucket.bucket_name}/in"}
        ],
        "Steps": [
            {
                "Name": "Register",
                "Type": "Fail",
                "Arguments": {"ErrorMessage": "placeholder"},
            }
        ],
    }
    pipeline = sagemaker.CfnPipeline(
        project,
        "Pipeline",
        pipeline_name=PIPELINE_NAME,
        role_arn=project_role.role_arn,
        pipeline_definition={"PipelineDefinitionBody": cdk.Stack.of(project).to_json_string(definition)},
    )
    pipeline.add_dependency(group)
    ssm.StringParameter(
        project,
        "GroupArnParameter",
        parameter_name="/local-test/project-group-arn",
        string_value=group.attr_model_package_group_arn,
    )
    project.add_dependency(net)
    assembly = app.synth()
    return Path(assembly.directory)


def _handler_dir(outdir: Path) -> Path:
    folder = outdir.parent / "noop-handler"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "index.py").write_text(_HANDLER)
    return folder


if __name__ == "__main__":  # pragma: no cover - manual inspection aid
    import sys

    out = build(Path(sys.argv[1]))
    print(json.dumps(sorted(p.name for p in out.iterdir())))
