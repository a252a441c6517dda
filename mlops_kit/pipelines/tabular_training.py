"""The ``tabular-training`` template: preprocess, train, evaluate, gate, register.

Steps, in order::

    Preprocess (Processing) -> Train (Training, managed spot) -> Evaluate (Processing,
    writes evaluation.json) -> CheckQuality (Condition: metric >= threshold)
        if true:  RegisterModel (RegisterModel, PendingManualApproval, with metrics)
        else:     QualityGateFailed (Fail)
    Preprocess -> DataQualityBaseline (QualityCheck, with ``monitor_image_uri``), before RegisterModel

The baseline is the SDK's ``QualityCheckStep`` (a processing job of AWS's Model Monitor
analyzer image, not a script of ours) over the training split: ``statistics.json`` and
``constraints.json`` in Model Monitor's documented format
(https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-byoc-statistics.html,
https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-byoc-constraints.html), under
``<run>/baseline/``. The package registers them as ``DriftCheckBaselines.ModelDataQuality``
and ``ModelMetrics.ModelDataQuality``, so every version carries its own baseline; the deploy
flow reads it back into the monitoring schedule's ``BaselineConfig``
(https://docs.aws.amazon.com/sagemaker/latest/dg/pipelines-quality-clarify-baseline-lifecycle.html).

Every job runs the SageMaker scikit-learn image with the scripts in
:mod:`mlops_kit.pipelines.steps`, inside the given VPC subnets with network isolation,
volumes and outputs encrypted with the given KMS key. Job steps cache their results for
``cache_expire_after`` (30 days by default), so a rerun with unchanged code and data
skips them. The definition is built offline and is byte-for-byte repeatable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from mlops_kit.pipelines import _validate as check
from mlops_kit.pipelines._tokens import TokenVault
from mlops_kit.pipelines.errors import PipelineTemplateError

# What evaluate.py reports under ``binary_classification_metrics``.
METRIC_NAMES = ("accuracy", "auc", "f1", "precision", "recall")
# The hyperparameters train.py accepts (see DEFAULT_HYPERPARAMETERS there).
HYPERPARAMETER_NAMES = (
    "learning_rate",
    "max_iter",
    "max_depth",
    "max_leaf_nodes",
    "min_samples_leaf",
    "l2_regularization",
    "seed",
)
CODE_KEYS = ("preprocess", "train", "evaluate")

STEP_PREPROCESS = "Preprocess"
STEP_TRAIN = "Train"
STEP_EVALUATE = "Evaluate"
STEP_CHECK = "CheckQuality"
STEP_REGISTER = "RegisterModel"
STEP_FAIL = "QualityGateFailed"
STEP_BASELINE = "DataQualityBaseline"
# Where a run's baseline goes, under the run's own folder.
BASELINE_FOLDER = "baseline"

PARAM_INPUT_DATA = "InputDataUri"
PARAM_PROCESSING_INSTANCE = "ProcessingInstanceType"
PARAM_TRAINING_INSTANCE = "TrainingInstanceType"

# Where the SageMaker containers mount inputs and pick up outputs.
_PROCESSING = "/opt/ml/processing"
_TRAINING_CODE_DIR = "/opt/ml/input/data/code"
_EVALUATION_REPORT = "evaluation.json"
# The serving container runs the copy of train.py that training puts in the model.
_SERVING_ENVIRONMENT = {
    "SAGEMAKER_PROGRAM": "inference.py",
    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
    "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
}
_CONTENT_TYPES = ["text/csv", "application/json"]


def build_tabular_training_definition(
    *,
    pipeline_name: str,
    role_arn: str,
    artifact_bucket: str,
    data_prefix: str,
    code_uris: Mapping[str, str],
    sklearn_image_uri: str,
    model_package_group_name: str,
    kms_key_arn: str,
    target_column: str = "label",
    metric_name: str = "accuracy",
    metric_threshold: float = 0.7,
    processing_instance_type: str = "ml.m5.large",
    training_instance_type: str = "ml.m5.large",
    inference_instance_types: Sequence[str] = ("ml.m5.large",),
    transform_instance_types: Sequence[str] = ("ml.m5.large",),
    hyperparameters: Mapping[str, str | int | float] | None = None,
    use_spot: bool = True,
    max_runtime_seconds: int = 3600,
    max_wait_seconds: int | None = None,
    subnet_ids: Sequence[str] = (),
    security_group_ids: Sequence[str] = (),
    enable_network_isolation: bool = True,
    cache_expire_after: str = "P30D",
    monitor_image_uri: str | None = None,
) -> str:
    """Return the pipeline definition JSON of the tabular training template.

    String arguments may be AWS CDK tokens; they come out verbatim in the JSON.
    ``code_uris`` maps ``preprocess``, ``train`` and ``evaluate`` to ``s3://`` URIs of
    the step scripts (CDK file assets). Outputs go under
    ``s3://<artifact_bucket>/<data_prefix>/<pipeline_name>/``; the input data URI
    defaults to ``s3://<artifact_bucket>/<data_prefix>/raw/`` and can be overridden per
    execution with the ``InputDataUri`` parameter, as can both instance types.
    Managed spot training (``use_spot``) waits up to ``max_wait_seconds`` (default twice
    ``max_runtime_seconds``) for capacity. Without ``subnet_ids`` the jobs run outside
    any VPC; network isolation still applies. With ``monitor_image_uri`` (the Model Monitor
    analyzer image of the region) the run computes a data-quality baseline and registers it.
    """
    check.pipeline_name(pipeline_name)
    check.arn("role_arn", role_arn, "iam")
    check.arn("kms_key_arn", kms_key_arn, "kms")
    check.bucket_name("artifact_bucket", artifact_bucket)
    check.s3_prefix("data_prefix", data_prefix)
    check.non_empty("sklearn_image_uri", sklearn_image_uri)
    check.non_empty("model_package_group_name", model_package_group_name)
    check.non_empty("target_column", target_column)
    scripts = _check_code_uris(code_uris)
    _check_metric(metric_name, metric_threshold)
    check.instance_type("processing_instance_type", processing_instance_type)
    check.instance_type("training_instance_type", training_instance_type)
    inference_types = check.instance_types("inference_instance_types", inference_instance_types)
    transform_types = check.instance_types("transform_instance_types", transform_instance_types)
    tuned = _check_hyperparameters(hyperparameters or {})
    check.positive_int("max_runtime_seconds", max_runtime_seconds, maximum=28 * 24 * 3600)
    max_wait = _check_max_wait(use_spot, max_runtime_seconds, max_wait_seconds)
    subnets, groups = check.network(subnet_ids, security_group_ids)
    check.duration("cache_expire_after", cache_expire_after)
    if monitor_image_uri is not None:
        check.non_empty("monitor_image_uri", monitor_image_uri)

    vault = TokenVault()
    role = vault.protect_role(role_arn)
    bucket, prefix, name = (
        vault.protect(artifact_bucket),
        vault.protect(data_prefix),
        vault.protect(pipeline_name),
    )
    image, kms = vault.protect(sklearn_image_uri), vault.protect(kms_key_arn)
    monitor_image = vault.protect(monitor_image_uri) if monitor_image_uri else ""
    group = vault.protect(model_package_group_name)
    code = {key: vault.protect(uri) for key, uri in scripts.items()}
    subnets = [vault.protect(subnet) for subnet in subnets]
    groups = [vault.protect(group_id) for group_id in groups]

    from mlops_kit.pipelines._sdk import offline_session

    with offline_session() as session:
        from mlops_kit.pipelines import _tabular_steps as steps

        definition = steps.build(
            steps.Settings(
                session=session,
                pipeline_name=name,
                role=role,
                output_root=f"s3://{bucket}/{prefix}/{name}",
                default_input_uri=f"s3://{bucket}/{prefix}/raw/",
                code=code,
                image=image,
                kms=kms,
                model_package_group=group,
                target_column=vault.protect(target_column),
                metric_name=metric_name,
                metric_threshold=float(metric_threshold),
                processing_instance_type=processing_instance_type,
                training_instance_type=training_instance_type,
                inference_instance_types=inference_types,
                transform_instance_types=transform_types,
                hyperparameters={key: vault.protect(str(value)) for key, value in tuned.items()},
                use_spot=use_spot,
                max_runtime_seconds=max_runtime_seconds,
                max_wait_seconds=max_wait,
                subnets=subnets,
                security_groups=groups,
                isolate=enable_network_isolation,
                cache_expire_after=cache_expire_after,
                monitor_image=monitor_image,
            )
        )
    return vault.restore(definition)


def _check_code_uris(code_uris: Mapping[str, str]) -> dict[str, str]:
    missing = [key for key in CODE_KEYS if key not in code_uris]
    unknown = sorted(set(code_uris) - set(CODE_KEYS))
    if missing or unknown:
        raise PipelineTemplateError(
            "code_uris", sorted(code_uris), f"expected exactly the keys {', '.join(CODE_KEYS)}"
        )
    return {key: check.s3_script_uri(f"code_uris[{key!r}]", code_uris[key]) for key in CODE_KEYS}


def _check_metric(metric_name: str, metric_threshold: float) -> None:
    if metric_name not in METRIC_NAMES:
        raise PipelineTemplateError("metric_name", metric_name, f"choose one of {', '.join(METRIC_NAMES)}")
    if (
        isinstance(metric_threshold, bool)
        or not isinstance(metric_threshold, int | float)
        or not math.isfinite(metric_threshold)
        or not 0.0 <= metric_threshold <= 1.0
    ):
        raise PipelineTemplateError(
            "metric_threshold",
            metric_threshold,
            f"{metric_name} lies between 0 and 1; choose a threshold in [0, 1]",
        )


def _check_hyperparameters(hyperparameters: Mapping[str, str | int | float]) -> dict[str, str | int | float]:
    unknown = sorted(set(hyperparameters) - set(HYPERPARAMETER_NAMES))
    if unknown:
        raise PipelineTemplateError(
            "hyperparameters", unknown, f"train.py accepts {', '.join(HYPERPARAMETER_NAMES)}"
        )
    for key, value in hyperparameters.items():
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise PipelineTemplateError(f"hyperparameters[{key!r}]", value, "expected a number or a string")
    return {key: hyperparameters[key] for key in sorted(hyperparameters)}


def _check_max_wait(use_spot: bool, max_runtime: int, max_wait: int | None) -> int | None:
    if not use_spot:
        if max_wait is not None:
            raise PipelineTemplateError("max_wait_seconds", max_wait, "only applies with use_spot=True")
        return None
    wait = 2 * max_runtime if max_wait is None else max_wait
    check.positive_int("max_wait_seconds", wait, maximum=28 * 24 * 3600)
    if wait < max_runtime:
        raise PipelineTemplateError(
            "max_wait_seconds", wait, f"managed spot training needs it >= max_runtime_seconds ({max_runtime})"
        )
    return wait
