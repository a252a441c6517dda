"""The batch-inference definition: a model from a package, then an encrypted transform."""

from __future__ import annotations

from typing import Any

from mlops_kit.pipelines import TEMPLATES, build_batch_inference_definition
from tests.pipelines._support import TOKENS, batch_arguments, no_network


def test_steps_create_a_model_then_transform(batch: dict[str, Any]) -> None:
    assert [(step["Name"], step["Type"]) for step in batch["Steps"]] == [
        ("CreateModel", "Model"),
        ("Transform", "Transform"),
    ]
    assert batch["Steps"][1]["Arguments"]["ModelName"] == {"Get": "Steps.CreateModel.ModelName"}


def test_model_package_arn_is_a_required_parameter(batch: dict[str, Any]) -> None:
    parameters = {p["Name"]: p for p in batch["Parameters"]}
    assert parameters["ModelPackageArn"] == {"Name": "ModelPackageArn", "Type": "String"}  # no default
    assert (
        parameters["InputDataUri"]["DefaultValue"] == f"s3://{TOKENS['bucket']}/projects/churn/batch/input/"
    )
    assert parameters["TransformInstanceType"]["DefaultValue"] == "ml.m5.large"
    model = batch["Steps"][0]["Arguments"]
    assert model["PrimaryContainer"] == {"ModelPackageName": {"Get": "Parameters.ModelPackageArn"}}


def test_model_is_isolated_in_the_vpc(batch: dict[str, Any]) -> None:
    model = batch["Steps"][0]["Arguments"]
    assert model["ExecutionRoleArn"] == TOKENS["role"]
    assert model["EnableNetworkIsolation"] is True
    assert model["VpcConfig"] == {
        "SecurityGroupIds": [TOKENS["security_group"]],
        "Subnets": [TOKENS["subnet"]],
    }


def test_transform_output_and_volume_are_encrypted(batch: dict[str, Any]) -> None:
    transform = batch["Steps"][1]["Arguments"]
    assert transform["TransformOutput"]["KmsKeyId"] == TOKENS["kms"]
    assert transform["TransformResources"]["VolumeKmsKeyId"] == TOKENS["kms"]
    assert transform["TransformResources"]["InstanceType"] == {"Get": "Parameters.TransformInstanceType"}
    assert transform["TransformInput"]["ContentType"] == "text/csv"
    assert transform["TransformInput"]["SplitType"] == "Line"
    assert transform["TransformOutput"]["S3OutputPath"]["Std:Join"]["Values"] == [
        f"s3://{TOKENS['bucket']}/projects/churn/kit-churn-batch",
        {"Get": "Execution.PipelineExecutionId"},
        "predictions",
    ]


def test_transform_is_not_cached(batch: dict[str, Any]) -> None:
    # Each run creates a new model, and the model name is part of the cache key.
    assert "CacheConfig" not in batch["Steps"][1]


def test_tokens_pass_through_and_builds_repeat(batch_json: str) -> None:
    for name in ("role", "bucket", "kms", "subnet", "security_group"):
        assert TOKENS[name] in batch_json
    assert "mlopskit-token" not in batch_json
    with no_network():
        assert build_batch_inference_definition(**batch_arguments()) == batch_json
    assert TEMPLATES["batch-inference"].build is build_batch_inference_definition
