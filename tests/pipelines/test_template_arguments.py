"""Bad template arguments fail early, naming the argument, the value and the fix."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_kit.errors import KitError
from mlops_kit.pipelines import (
    PipelineTemplateError,
    build_batch_inference_definition,
    build_tabular_training_definition,
    sklearn_image_uri_by_region,
)
from tests.pipelines._support import batch_arguments, tabular_arguments


def fails(message: str, **overrides: Any) -> None:
    with pytest.raises(PipelineTemplateError) as caught:
        build_tabular_training_definition(**tabular_arguments(**overrides))
    assert message in str(caught.value)
    assert isinstance(caught.value, KitError) and isinstance(caught.value, ValueError)


def test_fails_if_threshold_is_out_of_range() -> None:
    fails(
        "metric_threshold: got 1.5; accuracy lies between 0 and 1; choose a threshold in [0, 1]",
        metric_threshold=1.5,
    )
    fails("metric_threshold: got nan", metric_threshold=float("nan"))
    fails("metric_threshold: got True", metric_threshold=True)


def test_fails_if_metric_is_unknown() -> None:
    fails("metric_name: got 'rmse'; choose one of accuracy, auc, f1, precision, recall", metric_name="rmse")


def test_fails_if_a_script_is_missing_or_not_in_s3() -> None:
    fails(
        "code_uris: got ['preprocess', 'train']; expected exactly the keys preprocess, train, evaluate",
        code_uris={"preprocess": "s3://b/p.py", "train": "s3://b/t.py"},
    )
    uris = {"preprocess": "s3://b/p.py", "train": "./train.py", "evaluate": "s3://b/e.py"}
    fails(
        "code_uris['train']: got './train.py'; expected an s3://bucket/key URI of a Python script",
        code_uris=uris,
    )
    uris = {"preprocess": "s3://b/p.py", "train": "s3://b/train.tar.gz", "evaluate": "s3://b/e.py"}
    fails("the script's key must end with '.py'", code_uris=uris)


def test_fails_if_subnets_come_without_security_groups() -> None:
    fails(
        "security_group_ids: got ['subnet-1']; give both subnet_ids and security_group_ids for VPC mode, or neither",
        subnet_ids=["subnet-1"],
        security_group_ids=[],
    )
    fails("subnet_ids: got 'subnet-1'; expected a list of IDs", subnet_ids="subnet-1")


def test_fails_if_spot_wait_is_shorter_than_the_runtime() -> None:
    fails(
        "max_wait_seconds: got 600; managed spot training needs it >= max_runtime_seconds (3600)",
        max_wait_seconds=600,
    )
    fails(
        "max_wait_seconds: got 7200; only applies with use_spot=True", use_spot=False, max_wait_seconds=7200
    )


def test_fails_if_names_and_arns_are_malformed() -> None:
    fails(
        "role_arn: got 'arn:aws:s3:::bucket'; expected an arn:aws:iam:... ARN or a CDK token",
        role_arn="arn:aws:s3:::bucket",
    )
    fails("pipeline_name: got 'my pipeline'", pipeline_name="my pipeline")
    fails("data_prefix: got '/projects/churn/'", data_prefix="/projects/churn/")
    fails("artifact_bucket: got 'My_Bucket'", artifact_bucket="My_Bucket")
    fails(
        "training_instance_type: got 'm5.large'; expected a SageMaker instance type",
        training_instance_type="m5.large",
    )


def test_fails_if_cache_duration_or_hyperparameters_are_unknown() -> None:
    fails("cache_expire_after: got '30 days'; expected an ISO 8601 duration", cache_expire_after="30 days")
    fails(
        "hyperparameters: got ['n_estimators']; train.py accepts learning_rate",
        hyperparameters={"n_estimators": 10},
    )


def test_fails_if_batch_arguments_are_unsupported() -> None:
    with pytest.raises(
        PipelineTemplateError,
        match="content_type: got 'text/parquet'; choose one of text/csv, application/json",
    ):
        build_batch_inference_definition(**batch_arguments(content_type="text/parquet"))
    with pytest.raises(
        PipelineTemplateError, match="instance_count: got 0; expected a positive whole number"
    ):
        build_batch_inference_definition(**batch_arguments(instance_count=0))


def test_fails_if_sklearn_version_is_unknown() -> None:
    with pytest.raises(
        PipelineTemplateError, match=r"framework_version: got '0.1'; known versions: .*1\.2-1"
    ):
        sklearn_image_uri_by_region("0.1")
