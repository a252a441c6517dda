"""The tabular-training definition: steps, caching, spot, gate, registration, tokens."""

from __future__ import annotations

import json
import re
from typing import Any

from mlops_kit.pipelines import TEMPLATES, build_tabular_training_definition
from mlops_kit.pipelines import tabular_training as template
from mlops_kit.pipelines.steps import evaluate, train
from tests.pipelines._support import TOKENS, no_network, steps_by_name, tabular_arguments

JOB_STEPS = ("Preprocess", "Train", "Evaluate")


def test_steps_come_in_order_with_their_types(tabular: dict[str, Any]) -> None:
    assert [(step["Name"], step["Type"]) for step in tabular["Steps"]] == [
        ("Preprocess", "Processing"),
        ("Train", "Training"),
        ("Evaluate", "Processing"),
        ("CheckQuality", "Condition"),
    ]
    gate = tabular["Steps"][3]["Arguments"]
    assert [(step["Name"], step["Type"]) for step in gate["IfSteps"]] == [("RegisterModel", "RegisterModel")]
    assert [(step["Name"], step["Type"]) for step in gate["ElseSteps"]] == [("QualityGateFailed", "Fail")]


def test_data_flows_from_step_to_step(tabular: dict[str, Any]) -> None:
    steps = steps_by_name(tabular)
    channels = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
        for c in steps["Train"]["Arguments"]["InputDataConfig"]
    }
    assert channels["train"] == {
        "Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"
    }
    assert channels["validation"] == {
        "Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['validation'].S3Output.S3Uri"
    }
    inputs = {
        i["InputName"]: i["S3Input"]["S3Uri"] for i in steps["Evaluate"]["Arguments"]["ProcessingInputs"]
    }
    assert inputs["model"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    assert inputs["test"] == {"Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"}
    raw = steps["Preprocess"]["Arguments"]["ProcessingInputs"][0]["S3Input"]["S3Uri"]
    assert raw == {"Get": "Parameters.InputDataUri"}


def test_parameters_cover_input_data_and_instance_types(tabular: dict[str, Any]) -> None:
    assert {p["Name"]: p.get("DefaultValue") for p in tabular["Parameters"]} == {
        "InputDataUri": f"s3://{TOKENS['bucket']}/projects/churn/raw/",
        "ProcessingInstanceType": "ml.m5.large",
        "TrainingInstanceType": "ml.m5.large",
    }
    steps = steps_by_name(tabular)
    assert steps["Train"]["Arguments"]["ResourceConfig"]["InstanceType"] == {
        "Get": "Parameters.TrainingInstanceType"
    }
    for name in ("Preprocess", "Evaluate"):
        cluster = steps[name]["Arguments"]["ProcessingResources"]["ClusterConfig"]
        assert cluster["InstanceType"] == {"Get": "Parameters.ProcessingInstanceType"}


def test_job_steps_are_cached_for_30_days(tabular: dict[str, Any]) -> None:
    steps = steps_by_name(tabular)
    for name in JOB_STEPS:
        assert steps[name]["CacheConfig"] == {"Enabled": True, "ExpireAfter": "P30D"}


def test_training_uses_managed_spot_with_a_wait_limit(tabular: dict[str, Any]) -> None:
    arguments = steps_by_name(tabular)["Train"]["Arguments"]
    assert arguments["EnableManagedSpotTraining"] is True
    assert arguments["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    retry = steps_by_name(tabular)["Train"]["RetryPolicies"][0]
    assert retry["ExceptionType"] == ["SageMaker.CAPACITY_ERROR"]


def test_training_without_spot_has_no_wait_time() -> None:
    with no_network():
        definition = json.loads(build_tabular_training_definition(**tabular_arguments(use_spot=False)))
    arguments = steps_by_name(definition)["Train"]["Arguments"]
    assert not arguments.get("EnableManagedSpotTraining")
    assert arguments["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}


def test_training_runs_train_py_in_script_mode(tabular: dict[str, Any]) -> None:
    arguments = steps_by_name(tabular)["Train"]["Arguments"]
    assert arguments["HyperParameters"] == {
        "sagemaker_program": TOKENS["train_key"],
        "sagemaker_submit_directory": "/opt/ml/input/data/code",
        "target_column": "label",
    }
    code = next(c for c in arguments["InputDataConfig"] if c["ChannelName"] == "code")
    assert (
        code["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://{TOKENS['code_bucket']}/{TOKENS['train_key']}"
    )
    assert arguments["AlgorithmSpecification"]["TrainingImage"] == TOKENS["image"]
    assert "ContainerEntrypoint" not in arguments["AlgorithmSpecification"]


def test_hyperparameters_reach_the_training_job() -> None:
    with no_network():
        definition = json.loads(
            build_tabular_training_definition(
                **tabular_arguments(hyperparameters={"max_iter": 50, "learning_rate": 0.05})
            )
        )
    hyperparameters = steps_by_name(definition)["Train"]["Arguments"]["HyperParameters"]
    assert hyperparameters["max_iter"] == "50" and hyperparameters["learning_rate"] == "0.05"


def test_processing_runs_the_scripts_from_s3(tabular: dict[str, Any]) -> None:
    steps = steps_by_name(tabular)
    for name, script in (("Preprocess", "preprocess.py"), ("Evaluate", "evaluate.py")):
        arguments = steps[name]["Arguments"]
        assert arguments["AppSpecification"]["ContainerEntrypoint"] == [
            "python3",
            f"/opt/ml/processing/input/code/{script}",
        ]
        code = next(i for i in arguments["ProcessingInputs"] if i["InputName"] == "code")
        assert code["S3Input"]["S3Uri"] == f"s3://{TOKENS['code_bucket']}/code/{script}"
    assert steps["Preprocess"]["Arguments"]["AppSpecification"]["ContainerArguments"] == [
        "--target-column",
        "label",
    ]


def test_jobs_are_isolated_in_the_vpc_and_encrypted(tabular: dict[str, Any]) -> None:
    steps = steps_by_name(tabular)
    vpc = {"SecurityGroupIds": [TOKENS["security_group"]], "Subnets": [TOKENS["subnet"], "subnet-0abc"]}
    for name in ("Preprocess", "Evaluate"):
        arguments = steps[name]["Arguments"]
        assert arguments["NetworkConfig"] == {
            "EnableNetworkIsolation": True,
            "EnableInterContainerTrafficEncryption": True,
            "VpcConfig": vpc,
        }
        assert arguments["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == TOKENS["kms"]
        assert arguments["ProcessingOutputConfig"]["KmsKeyId"] == TOKENS["kms"]
        assert arguments["RoleArn"] == TOKENS["role"]
    training = steps["Train"]["Arguments"]
    assert training["VpcConfig"] == vpc
    assert training["EnableNetworkIsolation"] is True
    assert training["ResourceConfig"]["VolumeKmsKeyId"] == TOKENS["kms"]
    assert training["OutputDataConfig"]["KmsKeyId"] == TOKENS["kms"]
    assert training["RoleArn"] == TOKENS["role"]


def test_without_subnets_there_is_no_vpc_config() -> None:
    with no_network():
        definition = build_tabular_training_definition(
            **tabular_arguments(subnet_ids=[], security_group_ids=[])
        )
    assert "VpcConfig" not in definition
    assert json.loads(definition)["Steps"][1]["Arguments"]["EnableNetworkIsolation"] is True


def test_outputs_go_under_the_project_prefix_per_execution(tabular: dict[str, Any]) -> None:
    output = steps_by_name(tabular)["Preprocess"]["Arguments"]["ProcessingOutputConfig"]["Outputs"][0]
    assert output["S3Output"]["S3Uri"] == {
        "Std:Join": {
            "On": "/",
            "Values": [
                f"s3://{TOKENS['bucket']}/projects/churn/kit-churn-training",
                {"Get": "Execution.PipelineExecutionId"},
                "data",
                "train",
            ],
        }
    }
    model_path = steps_by_name(tabular)["Train"]["Arguments"]["OutputDataConfig"]["S3OutputPath"]
    assert model_path == f"s3://{TOKENS['bucket']}/projects/churn/kit-churn-training/models"


def test_quality_gate_compares_the_metric_with_the_threshold(tabular: dict[str, Any]) -> None:
    evaluate_step = steps_by_name(tabular)["Evaluate"]
    assert evaluate_step["PropertyFiles"] == [
        {"PropertyFileName": "EvaluationReport", "OutputName": "evaluation", "FilePath": "evaluation.json"}
    ]
    condition = steps_by_name(tabular)["CheckQuality"]["Arguments"]["Conditions"]
    assert condition == [
        {
            "Type": "GreaterThanOrEqualTo",
            "LeftValue": {
                "Std:JsonGet": {
                    "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"},
                    "Path": "binary_classification_metrics.accuracy.value",
                }
            },
            "RightValue": 0.7,
        }
    ]


def test_metric_and_threshold_are_configurable() -> None:
    with no_network():
        definition = json.loads(
            build_tabular_training_definition(**tabular_arguments(metric_name="auc", metric_threshold=0.85))
        )
    condition = steps_by_name(definition)["CheckQuality"]["Arguments"]["Conditions"][0]
    assert condition["LeftValue"]["Std:JsonGet"]["Path"] == "binary_classification_metrics.auc.value"
    assert condition["RightValue"] == 0.85


def test_registration_waits_for_manual_approval_with_metrics(tabular: dict[str, Any]) -> None:
    register = steps_by_name(tabular)["RegisterModel"]["Arguments"]
    assert register["ModelApprovalStatus"] == "PendingManualApproval"
    assert register["ModelPackageGroupName"] == TOKENS["group"]
    container = register["InferenceSpecification"]["Containers"][0]
    assert container["Image"] == TOKENS["image"]
    assert container["ModelDataUrl"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    assert container["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == "/opt/ml/model/code"
    assert register["ModelMetrics"]["ModelQuality"]["Statistics"] == {
        "ContentType": "application/json",
        "S3Uri": {
            "Std:Join": {
                "On": "/",
                "Values": [
                    {"Get": "Steps.Evaluate.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"},
                    "evaluation.json",
                ],
            }
        },
    }


def test_failure_explains_the_missed_threshold(tabular: dict[str, Any]) -> None:
    message = steps_by_name(tabular)["QualityGateFailed"]["Arguments"]["ErrorMessage"]["Std:Join"]
    assert message["Values"][0] == "Model not registered: test accuracy"
    assert message["Values"][2] == "is below the threshold 0.7."


def test_cdk_tokens_pass_through_verbatim(tabular_json: str) -> None:
    for token in TOKENS.values():
        assert token in tabular_json, token
    assert "mlopskit-token" not in tabular_json
    assert "000000000000" not in tabular_json  # the stand-in role never leaks


def test_two_builds_are_byte_identical(tabular_json: str) -> None:
    with no_network():
        assert build_tabular_training_definition(**tabular_arguments()) == tabular_json


def test_definition_has_no_timestamps_or_job_names(tabular_json: str) -> None:
    assert not re.search(r"\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}", tabular_json)
    for key in ("ProcessingJobName", "TrainingJobName", "ModelPackageName"):
        assert f'"{key}"' not in tabular_json
    # The build region is an implementation detail; nothing regional comes from it.
    assert "us-east-1" not in tabular_json


def test_the_template_matches_its_step_code() -> None:
    assert template.METRIC_NAMES == evaluate.METRICS
    assert tuple(train.DEFAULT_HYPERPARAMETERS) == template.HYPERPARAMETER_NAMES
    assert TEMPLATES["tabular-training"].build is build_tabular_training_definition
    assert TEMPLATES["tabular-training"].code_keys == template.CODE_KEYS
