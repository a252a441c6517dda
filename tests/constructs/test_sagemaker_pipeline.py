"""SageMakerPipeline: definitions with CDK tokens, step code as assets, S3 for large definitions."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Match, Template

from mlops_kit.constructs.sagemaker_pipeline import SageMakerPipeline
from mlops_kit.errors import KitError
from tests.conftest import feature_flags

STEP_CODE = "print('preprocess')\n"


def resources(prefix: str = "Test") -> tuple[cdk.Stack, s3.Bucket, iam.Role, kms.Key]:
    app = cdk.App(context=feature_flags())
    stack = cdk.Stack(app, prefix)
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    bucket = s3.Bucket(stack, "Artifacts", encryption_key=key)
    role = iam.Role(stack, "PipelineRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    return stack, bucket, role, key


def processing_definition(bucket: s3.IBucket, role: iam.IRole, key: kms.IKey, code: str) -> str:
    """A minimal hand-written definition, as the SDK would write it, with CDK tokens inside."""
    return json.dumps({
        "Version": "2020-12-01",
        "Metadata": {},
        "Parameters": [{"Name": "InputData", "Type": "String", "DefaultValue": bucket.s3_url_for_object("curated/train.csv")}],
        "Steps": [{
            "Name": "Preprocess",
            "Type": "Processing",
            "Arguments": {
                "RoleArn": role.role_arn,
                "AppSpecification": {"ImageUri": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/sklearn:1.2", "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/preprocess.py"]},
                "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30, "VolumeKmsKeyId": key.key_arn}},
                "ProcessingInputs": [{"InputName": "code", "S3Input": {"S3Uri": code, "LocalPath": "/opt/ml/processing/input/code", "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
                "ProcessingOutputConfig": {"KmsKeyId": key.key_arn, "Outputs": [{"OutputName": "train", "S3Output": {"S3Uri": bucket.s3_url_for_object("pipelines/train"), "LocalPath": "/opt/ml/processing/train", "S3UploadMode": "EndOfJob"}}]},
            },
        }],
    })


def substitute(value: Any) -> str:
    """Evaluate a resolved CloudFormation string as a deploy would, with stand-in values."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        delimiter, parts = value["Fn::Join"]
        return delimiter.join(substitute(p) for p in parts)
    if "Ref" in value:
        return f"resolved-{value['Ref']}"
    if "Fn::GetAtt" in value:
        return f"resolved-{'-'.join(value['Fn::GetAtt'])}"
    if "Fn::Sub" in value:
        return str(value["Fn::Sub"]).replace("${", "resolved-").replace("}", "")
    if "Fn::Select" in value:
        return "resolved-select"
    raise AssertionError(f"unexpected intrinsic {value}")


@pytest.fixture(scope="module")
def code_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("code") / "preprocess.py"
    path.write_text(STEP_CODE)
    return path


@pytest.fixture(scope="module")
def built(code_file: Path) -> tuple[cdk.Stack, SageMakerPipeline, Template]:
    stack, bucket, role, key = resources()
    pipeline = SageMakerPipeline(
        stack,
        "Training",
        pipeline_name="kit-churn-training",
        role=role,
        code_assets={"preprocess": code_file},
        definition=lambda urls: processing_definition(bucket, role, key, urls["preprocess"]),
        max_parallel_steps=2,
    )
    return stack, pipeline, Template.from_stack(stack)


def test_pipeline_resource_names_role_and_parallelism(built: tuple[cdk.Stack, SageMakerPipeline, Template]) -> None:
    _, _, template = built
    template.has_resource_properties("AWS::SageMaker::Pipeline", {
        "PipelineName": "kit-churn-training",
        "RoleArn": {"Fn::GetAtt": [Match.string_like_regexp("PipelineRole"), "Arn"]},
        "ParallelismConfiguration": {"MaxParallelExecutionSteps": 2},
        "PipelineDefinition": {"PipelineDefinitionBody": {"Fn::Join": Match.any_value()}},
    })


def test_definition_tokens_are_cloudformation_functions_and_json_stays_valid(built: tuple[cdk.Stack, SageMakerPipeline, Template]) -> None:
    _, _, template = built
    rendered = json.dumps(template.to_json())
    assert "${Token[" not in rendered and "#{Token[" not in rendered
    body = next(iter(template.find_resources("AWS::SageMaker::Pipeline").values()))["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]
    parts = body["Fn::Join"][1]
    references = [p for p in parts if not isinstance(p, str)]
    assert any("Fn::GetAtt" in p and p["Fn::GetAtt"][1] == "Arn" and p["Fn::GetAtt"][0].startswith("PipelineRole") for p in references)
    assert any("Fn::GetAtt" in p and p["Fn::GetAtt"][0].startswith("Key") for p in references)
    assert any("Ref" in p and p["Ref"].startswith("Artifacts") for p in references)
    definition = json.loads(substitute(body))
    step = definition["Steps"][0]["Arguments"]
    assert step["RoleArn"].startswith("resolved-PipelineRole")
    assert step["ProcessingOutputConfig"]["KmsKeyId"].startswith("resolved-Key")


def test_step_code_travels_as_an_asset_the_role_may_read(built: tuple[cdk.Stack, SageMakerPipeline, Template]) -> None:
    _, pipeline, template = built
    asset = pipeline.code_assets["preprocess"]
    assert pipeline.code_urls["preprocess"].endswith(f"/{asset.asset_hash}.py")
    body = next(iter(template.find_resources("AWS::SageMaker::Pipeline").values()))["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]
    definition = json.loads(substitute(body))
    code_uri = definition["Steps"][0]["Arguments"]["ProcessingInputs"][0]["S3Input"]["S3Uri"]
    assert code_uri.startswith("s3://resolved-") or code_uri.startswith("s3://cdk-")
    assert code_uri.endswith(".py")
    template.has_resource_properties("AWS::IAM::Policy", {
        "Roles": [{"Ref": Match.string_like_regexp("PipelineRole")}],
        "PolicyDocument": {"Statement": Match.array_with([Match.object_like({"Action": Match.array_with(["s3:GetObject*"])})])},
    })


def test_two_synths_give_the_same_definition(code_file: Path) -> None:
    bodies = []
    for _ in range(2):
        stack, bucket, role, key = resources()
        SageMakerPipeline(
            stack, "Training", pipeline_name="kit-churn-training", role=role, code_assets={"preprocess": code_file},
            definition=lambda urls, b=bucket, r=role, k=key: processing_definition(b, r, k, urls["preprocess"]),
        )
        bodies.append(json.dumps(Template.from_stack(stack).to_json(), sort_keys=True))
    assert bodies[0] == bodies[1]


def test_large_definition_without_tokens_ships_as_s3_asset() -> None:
    stack, _, role, _ = resources()
    steps = [{"Name": f"Fail{i}", "Type": "Fail", "Arguments": {"ErrorMessage": "x" * 1000}} for i in range(60)]
    SageMakerPipeline(stack, "Big", pipeline_name="kit-big", role=role, definition=json.dumps({"Version": "2020-12-01", "Steps": steps}))
    Template.from_stack(stack).has_resource_properties("AWS::SageMaker::Pipeline", {
        "PipelineDefinition": {"PipelineDefinitionS3Location": {"Bucket": Match.any_value(), "Key": Match.string_like_regexp(r"\.json$")}},
    })


def test_large_definition_with_tokens_stays_inline_with_a_warning() -> None:
    stack, bucket, role, _ = resources()
    steps = [{"Name": f"Fail{i}", "Type": "Fail", "Arguments": {"ErrorMessage": bucket.bucket_name + "x" * 1000}} for i in range(60)]
    SageMakerPipeline(stack, "Big", pipeline_name="kit-big", role=role, definition=json.dumps({"Version": "2020-12-01", "Steps": steps}))
    Template.from_stack(stack).has_resource_properties("AWS::SageMaker::Pipeline", {
        "PipelineDefinition": {"PipelineDefinitionBody": Match.any_value()},
    })
    Annotations.from_stack(stack).has_warning("*", Match.string_like_regexp("holds CDK tokens"))


@pytest.fixture(scope="module")
def offline_sdk() -> Iterator[None]:
    """The SDK builds definitions only: fake credentials, fixed region, telemetry opted out."""
    config = Path(__file__).with_name("_sdk_no_telemetry.yaml")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "offline", "AWS_SECRET_ACCESS_KEY": "offline", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "SAGEMAKER_ADMIN_CONFIG_OVERRIDE": str(config), "SAGEMAKER_USER_CONFIG_OVERRIDE": str(config),
        }.items():
            patch.setenv(name, value)
        yield


def test_sdk_built_definition_deploys_with_tokens_resolved(offline_sdk: None) -> None:
    from sagemaker.core.workflow.parameters import ParameterString
    from sagemaker.mlops.workflow import Pipeline
    from sagemaker.mlops.workflow.fail_step import FailStep

    stack, bucket, role, _ = resources()

    def build(urls: Mapping[str, str]) -> str:
        sdk_pipeline = Pipeline(
            name="kit-sdk-demo",
            parameters=[ParameterString("InputData", default_value=bucket.s3_url_for_object("curated/train.csv"))],
            steps=[FailStep(name="Stop", error_message=f"stopped; outputs would go to {bucket.bucket_name}")],
        )
        return str(sdk_pipeline.definition())

    SageMakerPipeline(stack, "Sdk", pipeline_name="kit-sdk-demo", role=role, definition=build)
    template = Template.from_stack(stack)
    assert "${Token[" not in json.dumps(template.to_json())
    body = next(iter(template.find_resources("AWS::SageMaker::Pipeline").values()))["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]
    definition = json.loads(substitute(body))
    assert definition["Parameters"][0]["DefaultValue"].startswith("s3://resolved-Artifacts")
    assert definition["Steps"][0]["Type"] == "Fail"


def test_fails_if_definition_is_not_json() -> None:
    stack, _, role, _ = resources()
    with pytest.raises(KitError, match="pipeline 'kit-x': the definition is not valid JSON"):
        SageMakerPipeline(stack, "P", pipeline_name="kit-x", role=role, definition="{not json")


def test_fails_if_definition_has_no_steps() -> None:
    stack, _, role, _ = resources()
    with pytest.raises(KitError, match="has no 'Steps'"):
        SageMakerPipeline(stack, "P", pipeline_name="kit-x", role=role, definition='{"Version": "2020-12-01"}')


def test_fails_if_pipeline_name_is_invalid() -> None:
    stack, _, role, _ = resources()
    with pytest.raises(KitError, match="pipeline_name 'kit_x' is invalid"):
        SageMakerPipeline(stack, "P", pipeline_name="kit_x", role=role, definition='{"Steps": []}')


def test_fails_if_code_asset_is_missing(tmp_path: Path) -> None:
    stack, _, role, _ = resources()
    with pytest.raises(KitError, match=r"code asset 'train'.*does not exist"):
        SageMakerPipeline(stack, "P", pipeline_name="kit-x", role=role, code_assets={"train": tmp_path / "nope.py"}, definition=lambda urls: '{"Steps": []}')
