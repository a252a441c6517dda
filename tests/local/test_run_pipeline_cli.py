"""``mlops-kit run-pipeline NAME --local`` as users run it: a real process, its exit code and output."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile

import pytest

from mlops_kit.local import EmbeddedAws
from tests.conftest import ROOT

KIT = [sys.executable, "-m", "mlops_kit", "run-pipeline"]


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KIT, *args],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _without_endpoint() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key != "AWS_ENDPOINT_URL"}


def _assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, result
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for needle in needles:
        assert needle in lines[0]


def test_fails_if_no_embedded_aws_is_given() -> None:
    result = _run("credit-risk", "--local", env=_without_endpoint())
    _assert_one_line_error(result, "--endpoint-url", "AWS_ENDPOINT_URL", "deploy --local --keep")


def test_fails_if_not_local() -> None:
    _assert_one_line_error(_run("credit-risk", env=_without_endpoint()), "--local is required")


def test_fails_if_a_parameter_is_not_key_value() -> None:
    result = _run(
        "credit-risk",
        "--local",
        "--endpoint-url",
        "http://127.0.0.1:9",
        "-p",
        "InputDataUri",
        env=_without_endpoint(),
    )
    _assert_one_line_error(result, "-p InputDataUri: expected KEY=VALUE")


def test_fails_if_nothing_answers_at_the_endpoint() -> None:
    result = _run("credit-risk", "--local", "--endpoint-url", "http://127.0.0.1:9", env=_without_endpoint())
    _assert_one_line_error(result, "--endpoint-url http://127.0.0.1:9: no embedded AWS answers there")


# Step scripts with the standard library only, so the processes start fast; each checks the
# part of SageMaker's container contract it relies on and exits non-zero if it is missing.
PREPARE = """
import os, sys
from pathlib import Path
assert "AWS_ENDPOINT_URL" not in os.environ, "network isolation: no AWS endpoint in the job"
data = Path(os.environ["MLOPS_KIT_OPT_ML"]) / "processing" / "input" / "data"
rows = sum(len(f.read_text().splitlines()) for f in sorted(data.glob("*.csv")))
out = Path(sys.argv[sys.argv.index("--rows-out") + 1])
assert out.parent.is_dir(), "output LocalPath exists before the entrypoint starts"
out.write_text(str(rows))
"""
FIT = """
import argparse, json, os
from pathlib import Path
parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int)
args = parser.parse_args()
assert json.loads(os.environ["SM_CHANNELS"]) == ["code", "train"]
hps = json.loads((Path(os.environ["SM_INPUT_CONFIG_DIR"]) / "hyperparameters.json").read_text())
assert hps["epochs"] == "3" and args.epochs == 3 and os.environ["SM_HP_EPOCHS"] == "3"
rows = int((Path(os.environ["SM_CHANNEL_TRAIN"]) / "rows.txt").read_text())
Path(os.environ["SM_MODEL_DIR"], "model.txt").write_text(f"rows={rows}")
Path(os.environ["SM_OUTPUT_DATA_DIR"], "notes.txt").write_text("trained")
print(f"score={rows / 100:.2f}")
"""
SCORE = """
import json, os, tarfile
from pathlib import Path
processing = Path(os.environ["MLOPS_KIT_OPT_ML"]) / "processing"
with tarfile.open(processing / "model" / "model.tar.gz") as tar:
    rows = int(tar.extractfile("model.txt").read().decode().split("=")[1])
report = {"binary_classification_metrics": {"accuracy": {"value": rows / 100}}}
(processing / "evaluation" / "evaluation.json").write_text(json.dumps(report))
"""


def _s3_input(name: str, uri: object, path: str) -> dict[str, object]:
    return {
        "InputName": name,
        "S3Input": {"S3Uri": uri, "LocalPath": path, "S3DataType": "S3Prefix", "S3InputMode": "File"},
    }


def _output(name: str, bucket: str, path: str) -> dict[str, object]:
    uri = {
        "Std:Join": {
            "On": "/",
            "Values": [f"s3://{bucket}/runs", {"Get": "Execution.PipelineExecutionId"}, name],
        }
    }
    return {"OutputName": name, "S3Output": {"S3Uri": uri, "LocalPath": path, "S3UploadMode": "EndOfJob"}}


def _definition(bucket: str, group: str) -> str:
    model = {"Get": "Steps.Fit.ModelArtifacts.S3ModelArtifacts"}
    accuracy = {
        "Std:JsonGet": {
            "PropertyFile": {"Get": "Steps.Score.PropertyFiles.EvaluationReport"},
            "Path": "binary_classification_metrics.accuracy.value",
        }
    }
    steps = [
        {
            "Name": "Prepare",
            "Type": "Processing",
            "Arguments": {
                "AppSpecification": {
                    "ImageUri": "image",
                    "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/prepare.py"],
                    "ContainerArguments": ["--rows-out", "/opt/ml/processing/train/rows.txt"],
                },
                "ProcessingInputs": [
                    _s3_input("raw", {"Get": "Parameters.InputDataUri"}, "/opt/ml/processing/input/data"),
                    _s3_input("code", f"s3://{bucket}/code/prepare.py", "/opt/ml/processing/input/code"),
                ],
                "ProcessingOutputConfig": {"Outputs": [_output("train", bucket, "/opt/ml/processing/train")]},
                "NetworkConfig": {"EnableNetworkIsolation": True},
            },
        },
        {
            "Name": "Fit",
            "Type": "Training",
            "Arguments": {
                "AlgorithmSpecification": {
                    "TrainingImage": "image",
                    "TrainingInputMode": "File",
                    "MetricDefinitions": [{"Name": "score", "Regex": "score=([0-9.]+)"}],
                },
                "HyperParameters": {
                    "sagemaker_program": "fit.py",
                    "sagemaker_submit_directory": "/opt/ml/input/data/code",
                    "epochs": "3",
                },
                "InputDataConfig": [
                    {
                        "ChannelName": "train",
                        "DataSource": {
                            "S3DataSource": {
                                "S3DataType": "S3Prefix",
                                "S3Uri": {
                                    "Get": "Steps.Prepare.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"
                                },
                            }
                        },
                    },
                    {
                        "ChannelName": "code",
                        "DataSource": {
                            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/code/fit.py"}
                        },
                    },
                ],
                "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/models"},
                "EnableNetworkIsolation": True,
            },
        },
        {
            "Name": "Score",
            "Type": "Processing",
            "Arguments": {
                "AppSpecification": {
                    "ImageUri": "image",
                    "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/score.py"],
                },
                "ProcessingInputs": [
                    _s3_input("model", model, "/opt/ml/processing/model"),
                    _s3_input("code", f"s3://{bucket}/code/score.py", "/opt/ml/processing/input/code"),
                ],
                "ProcessingOutputConfig": {
                    "Outputs": [_output("evaluation", bucket, "/opt/ml/processing/evaluation")]
                },
            },
            "PropertyFiles": [
                {
                    "PropertyFileName": "EvaluationReport",
                    "OutputName": "evaluation",
                    "FilePath": "evaluation.json",
                }
            ],
        },
        {
            "Name": "Gate",
            "Type": "Condition",
            "Arguments": {
                "Conditions": [
                    {
                        "Type": "GreaterThanOrEqualTo",
                        "LeftValue": accuracy,
                        "RightValue": {"Get": "Parameters.Threshold"},
                    }
                ],
                "IfSteps": [
                    {
                        "Name": "Register",
                        "Type": "RegisterModel",
                        "Arguments": {
                            "ModelPackageGroupName": group,
                            "ModelApprovalStatus": "PendingManualApproval",
                            "InferenceSpecification": {
                                "Containers": [{"Image": "image", "ModelDataUrl": model}],
                                "SupportedContentTypes": ["text/csv"],
                                "SupportedResponseMIMETypes": ["text/csv"],
                            },
                        },
                    }
                ],
                "ElseSteps": [
                    {
                        "Name": "TooWeak",
                        "Type": "Fail",
                        "Arguments": {
                            "ErrorMessage": {"Std:Join": {"On": " ", "Values": ["accuracy", accuracy]}}
                        },
                    }
                ],
            },
        },
    ]
    parameters = [
        {"Name": "InputDataUri", "Type": "String", "DefaultValue": f"s3://{bucket}/raw/"},
        {"Name": "Threshold", "Type": "Float", "DefaultValue": 0.5},
    ]
    return json.dumps({"Version": "2020-12-01", "Parameters": parameters, "Steps": steps})


@pytest.mark.integration
def test_runs_the_project_pipeline_in_the_embedded_aws(aws: EmbeddedAws) -> None:
    """The project name resolves to <prefix>-<name>; -p overrides parameters; exit 1 on a failed gate, 0 with a package."""
    s3, sm = aws.client("s3"), aws.client("sagemaker")
    bucket, group = "mlops-credit-risk-cli", "mlops-credit-risk"
    s3.create_bucket(Bucket=bucket)
    for name, body in (("prepare", PREPARE), ("fit", FIT), ("score", SCORE)):
        s3.put_object(Bucket=bucket, Key=f"code/{name}.py", Body=body)
    s3.put_object(Bucket=bucket, Key="raw/a.csv", Body="x\n" * 60)
    s3.put_object(Bucket=bucket, Key="elsewhere/a.csv", Body="x\n" * 90)
    sm.create_model_package_group(ModelPackageGroupName=group)
    sm.create_pipeline(
        PipelineName="mlops-credit-risk",
        PipelineDefinition=_definition(bucket, group),
        RoleArn="arn:aws:iam::123456789012:role/r",
    )
    env = {**os.environ, **aws.env}

    weak = _run("credit-risk", "--local", "-p", "Threshold=0.7", env=env)
    assert weak.returncode == 1, weak.stdout + weak.stderr
    assert "pipeline mlops-credit-risk: Failed in " in weak.stdout
    assert "failed at TooWeak: accuracy 0.6" in weak.stdout
    assert sm.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"] == []

    result = _run(
        "credit-risk",
        "--local",
        "-p",
        f"InputDataUri=s3://{bucket}/elsewhere/",
        "-p",
        "Threshold=0.7",
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout.splitlines()
    assert out[0].startswith("pipeline mlops-credit-risk: execution ")
    assert any(
        line.startswith("Fit ") and "Succeeded" in line and "score=0.9" in line for line in out
    )  # the table
    assert sum("moto records every pipeline execution as Succeeded" in line for line in out) == 1
    verdict = next(line for line in out if line.startswith("pipeline mlops-credit-risk: Succeeded in "))
    assert "accuracy 0.9 >= 0.7" in verdict
    packages = sm.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]
    assert len(packages) == 1 and verdict.endswith(f"model package {packages[0]['ModelPackageArn']}")
    assert out[-1].startswith("next: approve it with `aws sagemaker update-model-package")
    url = sm.describe_model_package(ModelPackageName=packages[0]["ModelPackageArn"])[
        "InferenceSpecification"
    ]["Containers"][0]["ModelDataUrl"]
    bucket_name, _, key = url.removeprefix("s3://").partition("/")
    assert key.startswith("models/pipelines-") and key.endswith("-Fit/output/model.tar.gz")
    with tarfile.open(
        fileobj=io.BytesIO(s3.get_object(Bucket=bucket_name, Key=key)["Body"].read()), mode="r:gz"
    ) as tar:
        assert tar.getnames() == ["model.txt"]
    assert (
        s3.head_object(Bucket=bucket_name, Key=key.replace("model.tar.gz", "output.tar.gz"))["ContentLength"]
        > 0
    )
