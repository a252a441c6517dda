"""KitSageMaker rules over what runs later: deploy flows (Step Functions) and pipeline definitions (inline or an S3 asset)."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from mlops_kit.constructs.sagemaker_pipeline import SageMakerPipeline
from tests.rules._fixtures import ROLE, Platform, definition_json, findings_of

MODEL_NAME = sfn.JsonPath.format("model-{}", sfn.JsonPath.string_at("$$.Execution.Name"))


def _flow(stack: cdk.Stack, construct_id: str, *calls: tuple[str, str, dict[str, object]]) -> None:
    """A state machine of aws-sdk SageMaker calls, built the way the kit's deploy flow builds its own."""
    steps = [
        tasks.CallAwsService(stack, f"{construct_id}{name}", service="sagemaker", action=action, parameters=parameters,
                             iam_resources=["*"], state_name=name)
        for name, action, parameters in calls
    ]
    chain = sfn.Chain.start(steps[0])
    for step in steps[1:]:
        chain = chain.next(step)
    sfn.StateMachine(stack, construct_id, definition_body=sfn.DefinitionBody.from_chainable(chain))


def _flows(stack: cdk.Stack, p: Platform) -> None:
    container = {"ModelPackageName": sfn.JsonPath.string_at("$.detail.ModelPackageArn")}
    vpc_model = {"ModelName": MODEL_NAME, "ExecutionRoleArn": ROLE, "PrimaryContainer": container,
                 "VpcConfig": p.vpc_config, "EnableNetworkIsolation": True}
    instance = {"VariantName": "AllTraffic", "ModelName": MODEL_NAME, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
    serverless = {"VariantName": "AllTraffic", "ModelName": MODEL_NAME, "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 1}}
    monitor = {"MonitoringScheduleName": "m", "MonitoringScheduleConfig": {"MonitoringJobDefinition": {
        "MonitoringAppSpecification": {"ImageUri": "x"}, "MonitoringInputs": [], "RoleArn": ROLE,
        "MonitoringOutputConfig": {"MonitoringOutputs": [], "KmsKeyId": p.key.key_arn},
        "MonitoringResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 20,
                                                  "VolumeKmsKeyId": p.key.key_arn}},
        "NetworkConfig": {"EnableNetworkIsolation": True, "VpcConfig": p.vpc_config}}}}
    _flow(stack, "FlowGood",
          ("CreateModel", "createModel", vpc_model),
          ("CreateConfig", "createEndpointConfig", {"EndpointConfigName": "c", "ProductionVariants": [instance], "KmsKeyId": p.key.key_arn}),
          ("Monitor", "createMonitoringSchedule", monitor))
    _flow(stack, "FlowServerlessGood",
          ("CreateModel", "createModel", {"ModelName": MODEL_NAME, "ExecutionRoleArn": ROLE, "PrimaryContainer": container}),
          ("CreateConfig", "createEndpointConfig", {"EndpointConfigName": "c", "ProductionVariants": [serverless]}))
    _flow(stack, "FlowBad",
          ("CreateModel", "createModel", {"ModelName": MODEL_NAME, "ExecutionRoleArn": ROLE, "PrimaryContainer": container}),
          ("CreateConfig", "createEndpointConfig", {"EndpointConfigName": "c", "ProductionVariants": [instance],
                                                    "DataCaptureConfig": {"EnableCapture": True, "InitialSamplingPercentage": 5,
                                                                          "DestinationS3Uri": "s3://b/c", "CaptureOptions": []}}),
          ("Monitor", "createMonitoringSchedule", {"MonitoringScheduleName": "m", "MonitoringScheduleConfig": {"MonitoringJobDefinition": {
              "MonitoringAppSpecification": {"ImageUri": "x"}, "MonitoringInputs": [], "RoleArn": ROLE,
              "MonitoringOutputConfig": {"MonitoringOutputs": []},
              "MonitoringResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 20}}}}}))
    _flow(stack, "FlowServerlessVpc",
          ("CreateModel", "createModel", vpc_model),
          ("CreateConfig", "createEndpointConfig", {"EndpointConfigName": "c", "ProductionVariants": [serverless]}))


@pytest.fixture(scope="module")
def flows() -> dict[str, set[str]]:
    return findings_of(_flows)


@pytest.mark.parametrize("construct", ["FlowGood", "FlowServerlessGood"])
def test_compliant_flow_has_no_finding(flows: dict[str, set[str]], construct: str) -> None:
    assert construct not in flows, flows.get(construct)


def test_flow_without_vpc_isolation_and_keys_is_reported(flows: dict[str, set[str]]) -> None:
    job = "Monitor/MonitoringJobDefinition"
    assert flows["FlowBad"] == {
        "ModelVpcIsolation[CreateModel/VpcConfig]", "ModelVpcIsolation[CreateModel/EnableNetworkIsolation]",
        "EndpointConfigKms[CreateConfig/KmsKeyId]", "EndpointConfigKms[CreateConfig/DataCaptureConfig/KmsKeyId]",
        f"MonitoringSecurity[{job}/NetworkConfig/VpcConfig]", f"MonitoringSecurity[{job}/NetworkConfig/EnableNetworkIsolation]",
        f"MonitoringSecurity[{job}/MonitoringResources/ClusterConfig/VolumeKmsKeyId]", f"MonitoringSecurity[{job}/MonitoringOutputConfig/KmsKeyId]",
    }


def test_flow_serving_a_vpc_model_serverless_is_reported(flows: dict[str, set[str]]) -> None:
    assert flows["FlowServerlessVpc"] == {"ServerlessVpcModel[CreateConfig/AllTraffic]"}


def _processing(name: str, p: Platform, *, network: bool) -> dict[str, object]:
    arguments: dict[str, object] = {
        "ProcessingResources": {"ClusterConfig": {"InstanceType": {"Get": "Parameters.Instance"}, "InstanceCount": 1,
                                                  "VolumeSizeInGB": 30, "VolumeKmsKeyId": p.key.key_arn}},
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": "o", "S3Output": {"S3Uri": "s3://b/o", "LocalPath": "/o",
                                                                                "S3UploadMode": "EndOfJob"}}], "KmsKeyId": p.key.key_arn},
    }
    if network:
        arguments["NetworkConfig"] = {"EnableNetworkIsolation": True, "EnableInterContainerTrafficEncryption": True, "VpcConfig": p.vpc_config}
    return {"Name": name, "Type": "Processing", "Arguments": arguments}


def _training(p: Platform, *, secure: bool) -> dict[str, object]:
    arguments: dict[str, object] = {
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "OutputDataConfig": {"S3OutputPath": "s3://b/models"},
    }
    if secure:
        arguments.update(VpcConfig=p.vpc_config, EnableNetworkIsolation=True, EnableInterContainerTrafficEncryption=True,
                         ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30, "VolumeKmsKeyId": p.key.key_arn},
                         OutputDataConfig={"S3OutputPath": "s3://b/models", "KmsKeyId": p.key.key_arn})
    return {"Name": "Train", "Type": "Training", "Arguments": arguments}


def _pipelines(stack: cdk.Stack, p: Platform) -> None:
    good = [_processing("Prepare", p, network=True), _training(p, secure=True)]
    # Inline (the definition holds tokens) and as an S3 asset (a literal definition over a tiny inline limit).
    SageMakerPipeline(stack, "PipelineGood", pipeline_name="good", role=p.role, definition=definition_json(good))
    bad = [
        _training(p, secure=False),
        {"Name": "Gate", "Type": "Condition", "Arguments": {"Conditions": [], "IfSteps": [_processing("Late", p, network=False)], "ElseSteps": []}},
        {"Name": "Score", "Type": "Transform", "Arguments": {"ModelName": "m", "TransformOutput": {"S3OutputPath": "s3://b/s"},
                                                              "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1}}},
    ]
    SageMakerPipeline(stack, "PipelineBad", pipeline_name="bad", role=p.role, definition=definition_json(bad))
    literal = definition_json([{"Name": "Train", "Type": "Training", "Arguments": {"ResourceConfig": {"VolumeKmsKeyId": "alias/kit"},
                                                                                    "OutputDataConfig": {"KmsKeyId": "alias/kit"}}}])
    SageMakerPipeline(stack, "PipelineAsset", pipeline_name="asset", role=p.role, definition=literal, inline_limit_bytes=10)


@pytest.fixture(scope="module")
def pipelines() -> dict[str, set[str]]:
    return findings_of(_pipelines)


def test_compliant_pipeline_has_no_finding(pipelines: dict[str, set[str]]) -> None:
    assert "PipelineGood" not in pipelines, pipelines.get("PipelineGood")


def test_pipeline_steps_outside_the_vpc_or_without_keys_are_reported(pipelines: dict[str, set[str]]) -> None:
    train = {f"PipelineStepSecurity[Steps/Train/{f}]" for f in (
        "VpcConfig", "EnableNetworkIsolation", "EnableInterContainerTrafficEncryption", "ResourceConfig/VolumeKmsKeyId", "OutputDataConfig/KmsKeyId")}
    assert pipelines["PipelineBad"] == train | {
        "PipelineStepSecurity[Steps/Late/NetworkConfig/VpcConfig]", "PipelineStepSecurity[Steps/Late/NetworkConfig/EnableNetworkIsolation]",
        "PipelineStepSecurity[Steps/Score/TransformResources/VolumeKmsKeyId]", "PipelineStepSecurity[Steps/Score/TransformOutput/KmsKeyId]",
    }


def test_pipeline_shipped_as_an_s3_asset_is_read_from_the_assembly(pipelines: dict[str, set[str]]) -> None:
    assert pipelines["PipelineAsset"] == {
        "PipelineStepSecurity[Steps/Train/VpcConfig]", "PipelineStepSecurity[Steps/Train/EnableNetworkIsolation]",
        "PipelineStepSecurity[Steps/Train/EnableInterContainerTrafficEncryption]",
    }
