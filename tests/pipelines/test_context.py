"""The seed's pipeline.py: read the published context, upload the step code, write the definition.

AWS is moto's, in process; the seed script itself runs once as the build runs it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mlops_kit.pipelines import build_batch_inference_definition, build_tabular_training_definition
from mlops_kit.pipelines.context import CODE_PREFIX, context_document, main
from tests.conftest import ROOT

REGION = "eu-west-1"
PARAMETER = "/mlops/projects/churn/pipeline-context"
SEED = ROOT / "mlops_kit" / "templates" / "seed"


def deployed_arguments(bucket: str, key_arn: str) -> dict[str, Any]:
    """Builder arguments as a deployed project stack publishes them (every reference resolved)."""
    return {
        "pipeline_name": "mlops-churn",
        "role_arn": "arn:aws:iam::123456789012:role/mlops-churn-execution",
        "artifact_bucket": bucket,
        "kms_key_arn": key_arn,
        "subnet_ids": ["subnet-0a", "subnet-0b"],
        "security_group_ids": ["sg-0c"],
        "data_prefix": "pipeline",
        "sklearn_image_uri": "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
        "model_package_group_name": "mlops-churn",
        "target_column": "label",
        "metric_name": "auc",
        "metric_threshold": 0.8,
        "processing_instance_type": "ml.m5.large",
        "training_instance_type": "ml.m5.xlarge",
        "inference_instance_types": ["ml.m5.large"],
        "transform_instance_types": ["ml.m5.large"],
        "use_spot": True,
    }


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A project environment in moto: its bucket, its data key, its published context."""
    with mock_aws():
        key_arn = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="mlops-project-churn-data", CreateBucketConfiguration={"LocationConstraint": REGION})
        arguments = deployed_arguments("mlops-project-churn-data", key_arn)
        boto3.client("ssm", region_name=REGION).put_parameter(
            Name=PARAMETER, Type="String", Value=json.dumps(context_document("tabular-training", arguments))
        )
        monkeypatch.setenv("PIPELINE_CONTEXT_PARAMETER", PARAMETER)
        monkeypatch.setenv("TARGET_REGION", REGION)
        yield {"bucket": "mlops-project-churn-data", "key_arn": key_arn}


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    """A project's seed folder as new-project writes it."""
    folder = tmp_path / "churn"
    shutil.copytree(ROOT / "projects" / "credit-risk" / "steps", folder / "steps")
    return folder


def uploaded(bucket: str) -> dict[str, dict[str, Any]]:
    s3 = boto3.client("s3", region_name=REGION)
    found = {}
    for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        found[item["Key"]] = s3.get_object(Bucket=bucket, Key=item["Key"])
    return found


def test_uploads_the_seed_steps_and_writes_the_stacks_definition_with_them(aws: dict[str, str], seed: Path, tmp_path: Path) -> None:
    output = tmp_path / "pipeline-definition.json"
    (seed / "steps" / "train.py").write_text((seed / "steps" / "train.py").read_text() + "\n# the team's change\n")

    assert main(["--output", str(output)], seed_folder=seed) == 0

    objects = uploaded(aws["bucket"])
    assert sorted(key.rsplit("/", 1)[1] for key in objects) == ["evaluate.py", "preprocess.py", "train.py"]
    folders = {key.rsplit("/", 1)[0] for key in objects}
    assert len(folders) == 1 and next(iter(folders)).startswith(f"{CODE_PREFIX}/")
    for key, item in objects.items():
        assert item["Body"].read() == (seed / "steps" / key.rsplit("/", 1)[1]).read_bytes()
        assert item["ServerSideEncryption"] == "aws:kms" and item["SSEKMSKeyId"] == aws["key_arn"]
    uris = {key.rsplit("/", 1)[1][:-3]: f"s3://{aws['bucket']}/{key}" for key in objects}
    expected = build_tabular_training_definition(**deployed_arguments(aws["bucket"], aws["key_arn"]), code_uris=uris)
    assert output.read_text() == expected
    assert uris["train"] in expected


def test_same_code_same_place_changed_code_new_place(aws: dict[str, str], seed: Path, tmp_path: Path) -> None:
    def folder_of_run() -> str:
        assert main(["--output", str(tmp_path / "out.json")], seed_folder=seed) == 0
        folders = set(re.findall(rf"{CODE_PREFIX}/[0-9a-f]+", (tmp_path / "out.json").read_text()))
        assert len(folders) == 1
        return folders.pop()

    first, again = folder_of_run(), folder_of_run()
    (seed / "steps" / "preprocess.py").write_text((seed / "steps" / "preprocess.py").read_text() + "\n# changed\n")
    changed = folder_of_run()
    assert first == again != changed
    assert len({key.rsplit("/", 1)[0] for key in uploaded(aws["bucket"])}) == 2


def test_batch_inference_needs_no_code(aws: dict[str, str], seed: Path, tmp_path: Path) -> None:
    arguments = {
        key: value for key, value in deployed_arguments(aws["bucket"], aws["key_arn"]).items()
        if key in {"pipeline_name", "role_arn", "artifact_bucket", "kms_key_arn", "subnet_ids", "security_group_ids"}
    } | {"data_prefix": "batch", "instance_type": "ml.m5.large"}
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=PARAMETER, Type="String", Overwrite=True, Value=json.dumps(context_document("batch-inference", arguments))
    )
    assert main(["--output", str(tmp_path / "out.json")], seed_folder=seed) == 0
    assert (tmp_path / "out.json").read_text() == build_batch_inference_definition(**arguments)
    assert uploaded(aws["bucket"]) == {}


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ("not json", "not JSON"),
        (json.dumps({"version": 9, "template": "tabular-training", "arguments": {}}), "version: got 9"),
        (json.dumps({"version": 1, "template": "sql-training", "arguments": {}}), "template: got 'sql-training'; allowed: tabular-training"),
        (json.dumps({"version": 1, "template": "batch-inference", "arguments": {"artifact_bucket": "b", "pipeline_name": "p"}}),
         "arguments.kms_key_arn: missing"),
    ],
)
def test_a_bad_context_is_one_line_exit_2_and_nothing_written(
    context: str, message: str, tmp_path: Path, seed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "context.json").write_text(context)
    output = tmp_path / "out.json"
    assert main(["--context", str(tmp_path / "context.json"), "--output", str(output)], seed_folder=seed) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and message in error and "Traceback" not in error
    assert error.startswith(f"pipeline.py: {tmp_path / 'context.json'}: ")
    assert not output.exists()


def test_without_a_context_it_says_how_to_give_one(monkeypatch: pytest.MonkeyPatch, seed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("PIPELINE_CONTEXT_PARAMETER", raising=False)
    assert main(["--output", str(tmp_path / "out.json")], seed_folder=seed) == 2
    assert "pass --parameter NAME, --context FILE, or set PIPELINE_CONTEXT_PARAMETER" in capsys.readouterr().err


def test_a_missing_parameter_is_reported_as_aws_refusing(aws: dict[str, str], seed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--parameter", "/mlops/projects/nope/pipeline-context", "--output", str(tmp_path / "o.json")], seed_folder=seed) == 1
    error = capsys.readouterr().err
    assert error.startswith("pipeline.py: AWS refused:") and "ParameterNotFound" in error
    assert not (tmp_path / "o.json").exists()


def test_the_seed_script_runs_as_the_build_runs_it(tmp_path: Path) -> None:
    """cd into the seed folder, kit importable through PYTHONPATH (the kit's repository), dry run."""
    seed = tmp_path / "churn"
    shutil.copytree(SEED, seed)
    shutil.copytree(ROOT / "projects" / "credit-risk" / "steps", seed / "steps")
    (seed / "context.json").write_text(json.dumps(context_document("tabular-training", deployed_arguments("bucket-1", "arn:aws:kms:eu-west-1:123456789012:key/k"))))
    environment = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PIPELINE_CONTEXT_PARAMETER"}}
    result = subprocess.run(
        [sys.executable, "pipeline.py", "--context", "context.json", "--dry-run", "--output", "pipeline-definition.json"],
        cwd=seed, env={**environment, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr
    definition = json.loads((seed / "pipeline-definition.json").read_text())
    assert [step["Name"] for step in definition["Steps"]][:3] == ["Preprocess", "Train", "Evaluate"]
    assert f"s3://bucket-1/{CODE_PREFIX}/" in json.dumps(definition)
    assert "not uploaded" in result.stdout
