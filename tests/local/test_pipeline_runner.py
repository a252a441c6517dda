"""The local pipeline runner on both templates, against in-process moto.

The pipelines are built by the kit's own definition builders with real values (bucket, KMS key,
code uploaded to S3), created with ``CreatePipeline`` and read back by the runner. Every job
runs for real: three runs in all (gate passed, gate failed, batch inference on the package the
first run registered), about a minute on two cores.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest
from moto import mock_aws

from mlops_kit.local.pipeline_runner import PipelineRun, PipelineRunError, render_steps, run_pipeline, verdict
from mlops_kit.pipelines import build_batch_inference_definition, build_tabular_training_definition
from mlops_kit.pipelines.steps import SCRIPTS, synthetic

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/mlops-credit-risk-execution"
BUCKET = "mlops-credit-risk-data"
GROUP = "mlops-credit-risk"


@dataclass
class Target:
    """An ``AwsTarget`` for in-process moto."""

    region: str = REGION
    account_id: str = "123456789012"
    endpoint: str = "in-process moto"

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=self.region)


@dataclass
class World:
    aws: Target
    key_arn: str
    passed: PipelineRun
    passed_lines: list[str]
    failed: PipelineRun
    batch: PipelineRun


def _create(aws: Target, name: str, definition: str) -> None:
    aws.client("sagemaker").create_pipeline(PipelineName=name, PipelineDefinition=definition, RoleArn=ROLE)


def _tabular(name: str, key_arn: str, threshold: float) -> str:
    return build_tabular_training_definition(
        pipeline_name=name,
        role_arn=ROLE,
        artifact_bucket=BUCKET,
        data_prefix="pipeline",
        code_uris={key: f"s3://{BUCKET}/pipeline-code/0123/{key}.py" for key in SCRIPTS},
        sklearn_image_uri="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
        model_package_group_name=GROUP,
        kms_key_arn=key_arn,
        metric_name="accuracy",
        metric_threshold=threshold,
        hyperparameters={"max_iter": 60},
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with mock_aws():
        aws = Target()
        s3 = aws.client("s3")
        key_arn = aws.client("kms").create_key()["KeyMetadata"]["Arn"]
        s3.create_bucket(Bucket=BUCKET)
        for key, path in SCRIPTS.items():
            s3.upload_file(str(path), BUCKET, f"pipeline-code/0123/{key}.py")
        data = io.StringIO()
        synthetic.generate(400, seed=7).to_csv(data, index=False)
        s3.put_object(Bucket=BUCKET, Key="pipeline/raw/data.csv", Body=data.getvalue())
        aws.client("sagemaker").create_model_package_group(ModelPackageGroupName=GROUP)
        _create(aws, "mlops-credit-risk", _tabular("mlops-credit-risk", key_arn, 0.7))
        _create(aws, "mlops-strict", _tabular("mlops-strict", key_arn, 0.99))
        work = tmp_path_factory.mktemp("runs")
        lines: list[str] = []
        passed = run_pipeline(aws, "mlops-credit-risk", workdir=work, progress=lines.append)
        failed = run_pipeline(aws, "mlops-strict", workdir=work)

        features = synthetic.generate(60, seed=11).drop(columns=["label"]).head(25)
        s3.put_object(Bucket=BUCKET, Key="batch/batch/input/part-1.csv", Body=features.to_csv(index=False))
        batch_definition = build_batch_inference_definition(
            pipeline_name="mlops-scoring",
            role_arn=ROLE,
            artifact_bucket=BUCKET,
            data_prefix="batch",
            kms_key_arn=key_arn,
        )
        _create(aws, "mlops-scoring", batch_definition)
        batch = run_pipeline(
            aws,
            "mlops-scoring",
            parameters={"ModelPackageArn": passed.model_package_arn or "missing"},
            workdir=work,
        )
        yield World(aws, key_arn, passed, lines, failed, batch)


def _object(aws: Target, uri: str) -> dict[str, Any]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    found: dict[str, Any] = aws.client("s3").get_object(Bucket=bucket, Key=key)
    return found


def test_pass_path_runs_every_step_in_order(world: World) -> None:
    run = world.passed
    assert run.status == "Succeeded", render_steps(run)
    assert [(s.name, s.status) for s in run.steps] == [
        ("Preprocess", "Succeeded"),
        ("Train", "Succeeded"),
        ("Evaluate", "Succeeded"),
        ("CheckQuality", "Succeeded"),
        ("RegisterModel", "Succeeded"),
        ("QualityGateFailed", "Skipped"),
    ]
    assert all(s.seconds > 0 for s in run.steps if s.type in ("Processing", "Training"))
    assert run.execution_arn.startswith(
        "arn:aws:sagemaker:us-east-1:123456789012:pipeline/mlops-credit-risk/execution/"
    )


def test_pass_path_registers_a_package_with_a_real_model(world: World, tmp_path: Path) -> None:
    sm = world.aws.client("sagemaker")
    package = sm.describe_model_package(ModelPackageName=world.passed.model_package_arn)
    assert package["ModelPackageGroupName"] == GROUP
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    url = package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    execution_id = world.passed.execution_arn.rsplit("/", 1)[-1]
    assert (
        url
        == f"s3://{BUCKET}/pipeline/mlops-credit-risk/models/pipelines-{execution_id}-Train/output/model.tar.gz"
    )
    archive = _object(world.aws, url)
    assert archive["ServerSideEncryption"] == "aws:kms"
    with tarfile.open(fileobj=io.BytesIO(archive["Body"].read()), mode="r:gz") as tar:
        assert {"model.joblib", "code/inference.py"} <= set(tar.getnames())
    # The metrics the definition names: the evaluation report in the project bucket.
    report_uri = package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    assert report_uri == f"s3://{BUCKET}/pipeline/mlops-credit-risk/{execution_id}/evaluation/evaluation.json"
    report = json.loads(_object(world.aws, report_uri)["Body"].read())
    accuracy = report["binary_classification_metrics"]["accuracy"]["value"]
    assert world.passed.metrics["accuracy"] == accuracy
    assert 0.7 <= accuracy <= 1.0
    assert report["test_rows"] == 60


def test_pass_path_splits_the_data_under_the_execution(world: World) -> None:
    execution_id = world.passed.execution_arn.rsplit("/", 1)[-1]
    rows = {
        split: len(
            pd.read_csv(
                _object(
                    world.aws,
                    f"s3://{BUCKET}/pipeline/mlops-credit-risk/{execution_id}/data/{split}/{split}.csv",
                )["Body"]
            )
        )
        for split in ("train", "validation", "test")
    }
    assert rows == {"train": 280, "validation": 60, "test": 60}


def test_progress_and_verdict_say_the_metric_and_the_package(world: World) -> None:
    run = world.passed
    assert world.passed_lines[0].startswith("pipeline mlops-credit-risk: execution ")
    assert any(
        "Train (Training): Succeeded" in line and "validation:accuracy=" in line
        for line in world.passed_lines
    )
    line = verdict(run)
    assert f"accuracy {run.metrics['accuracy']:g} >= 0.7" in line
    assert line.endswith(f"model package {run.model_package_arn}")
    table = render_steps(run)
    assert table.splitlines()[0].split() == ["step", "type", "status", "time", "detail"]
    assert len(table.splitlines()) == 1 + len(run.steps)


def test_failed_gate_fails_the_run_and_registers_nothing(world: World) -> None:
    run = world.failed
    assert run.status == "Failed"
    assert run.model_package_arn is None
    assert run.step("RegisterModel").status == "Skipped"
    fail = run.step("QualityGateFailed")
    assert fail.status == "Failed"
    assert fail.detail == (
        f"Model not registered: test accuracy {run.metrics['accuracy']:g} is below the threshold 0.99."
    )
    assert "QualityGateFailed" in verdict(run)
    # Only the first run's package exists in the group.
    sm = world.aws.client("sagemaker")
    packages = sm.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]
    assert [p["ModelPackageArn"] for p in packages] == [world.passed.model_package_arn]


def test_batch_inference_scores_with_the_registered_package(world: World) -> None:
    run = world.batch
    assert run.status == "Succeeded", render_steps(run)
    assert [(s.name, s.status) for s in run.steps] == [
        ("CreateModel", "Succeeded"),
        ("Transform", "Succeeded"),
    ]
    execution_id = run.execution_arn.rsplit("/", 1)[-1]
    out = _object(world.aws, f"s3://{BUCKET}/batch/mlops-scoring/{execution_id}/predictions/part-1.csv.out")
    assert out["ServerSideEncryption"] == "aws:kms"
    lines = out["Body"].read().decode().splitlines()
    assert len(lines) == 25  # one prediction,probability line per input row; the header is not a row
    for line in lines:
        label, probability = line.split(",")
        assert label in ("0", "1") and 0.0 <= float(probability) <= 1.0
    model_name = run.step("CreateModel").detail.removeprefix("model ")
    model = world.aws.client("sagemaker").describe_model(ModelName=model_name)
    assert model["PrimaryContainer"]["ModelPackageName"] == world.passed.model_package_arn


def test_unknown_parameter_and_missing_default_are_refused(world: World, tmp_path: Path) -> None:
    with pytest.raises(PipelineRunError, match=r"-p Nope: pipeline mlops-scoring has no such parameter"):
        run_pipeline(world.aws, "mlops-scoring", parameters={"Nope": "1"}, workdir=tmp_path)
    with pytest.raises(PipelineRunError, match=r"-p ModelPackageArn=VALUE: .* has no default"):
        run_pipeline(world.aws, "mlops-scoring", workdir=tmp_path)
    with pytest.raises(PipelineRunError, match=r"pipeline 'absent': not found in the embedded AWS"):
        run_pipeline(world.aws, "absent", workdir=tmp_path)
