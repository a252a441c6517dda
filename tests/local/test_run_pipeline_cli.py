"""``mlops-kit run-pipeline NAME --local`` as users run it: a real process, its exit code and output."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from mlops_kit.local import EmbeddedAws
from mlops_kit.pipelines import build_tabular_training_definition
from mlops_kit.pipelines.steps import SCRIPTS, synthetic
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


@pytest.mark.integration
def test_runs_the_project_pipeline_in_the_embedded_aws(aws: EmbeddedAws) -> None:
    """The project name resolves to <prefix>-<name>; -p overrides a parameter; exit 0 with a package."""
    s3, sm = aws.client("s3"), aws.client("sagemaker")
    bucket = "mlops-credit-risk-cli"
    key_arn = aws.client("kms").create_key()["KeyMetadata"]["Arn"]
    s3.create_bucket(Bucket=bucket)
    for key, path in SCRIPTS.items():
        s3.upload_file(str(path), bucket, f"code/{key}.py")
    data = io.StringIO()
    synthetic.generate(300, seed=5).to_csv(data, index=False)
    s3.put_object(Bucket=bucket, Key="elsewhere/data.csv", Body=data.getvalue())
    sm.create_model_package_group(ModelPackageGroupName="mlops-credit-risk")
    definition = build_tabular_training_definition(
        pipeline_name="mlops-credit-risk",
        role_arn="arn:aws:iam::123456789012:role/execution",
        artifact_bucket=bucket,
        data_prefix="pipeline",
        code_uris={key: f"s3://{bucket}/code/{key}.py" for key in SCRIPTS},
        sklearn_image_uri="image",
        model_package_group_name="mlops-credit-risk",
        kms_key_arn=key_arn,
        metric_threshold=0.6,
        hyperparameters={"max_iter": 40},
    )
    sm.create_pipeline(
        PipelineName="mlops-credit-risk",
        PipelineDefinition=definition,
        RoleArn="arn:aws:iam::123456789012:role/execution",
    )

    result = _run(
        "credit-risk",
        "--local",
        "-p",
        f"InputDataUri=s3://{bucket}/elsewhere/",
        env={**os.environ, **aws.env},
    )

    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout.splitlines()
    assert out[0].startswith("pipeline mlops-credit-risk: execution ")
    assert any(line.startswith("Train") and "Succeeded" in line for line in out)  # the table
    assert sum("moto records every pipeline execution as Succeeded" in line for line in out) == 1
    verdict = next(line for line in out if line.startswith("pipeline mlops-credit-risk: Succeeded in "))
    assert "accuracy 0." in verdict and ">= 0.6" in verdict
    packages = sm.list_model_packages(ModelPackageGroupName="mlops-credit-risk")["ModelPackageSummaryList"]
    assert len(packages) == 1 and verdict.endswith(f"model package {packages[0]['ModelPackageArn']}")
    assert out[-1].startswith("next: approve it with `aws sagemaker update-model-package")
    # The override was used: the raw input read was the one under elsewhere/.
    execution = sm.list_pipeline_executions(PipelineName="mlops-credit-risk")["PipelineExecutionSummaries"][0]
    parameters = sm.list_pipeline_parameters_for_execution(
        PipelineExecutionArn=execution["PipelineExecutionArn"]
    )
    assert {"Name": "InputDataUri", "Value": f"s3://{bucket}/elsewhere/"} in parameters["PipelineParameters"]
