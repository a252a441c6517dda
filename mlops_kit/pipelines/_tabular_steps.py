"""SDK side of the tabular-training template; import inside ``offline_session`` only.

Arguments arrive validated, with CDK tokens already swapped for placeholders.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sagemaker.core.model_monitor.dataset_format import DatasetFormat
from sagemaker.core.processing import ScriptProcessor
from sagemaker.core.shapes import (
    MetricDefinition,
    ProcessingInput,
    ProcessingOutput,
    ProcessingS3Input,
    ProcessingS3Output,
)
from sagemaker.core.training.configs import (
    Compute,
    InputData,
    Networking,
    OutputDataConfig,
    StoppingCondition,
)
from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo
from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join, JsonGet
from sagemaker.core.workflow.parameters import ParameterString
from sagemaker.core.workflow.properties import PropertyFile
from sagemaker.mlops.workflow import (
    ConditionStep,
    FailStep,
    Pipeline,
    ProcessingStep,
    SageMakerJobExceptionTypeEnum,
    SageMakerJobStepRetryPolicy,
    TrainingStep,
)
from sagemaker.mlops.workflow.check_job_config import CheckJobConfig
from sagemaker.mlops.workflow.quality_check_step import DataQualityCheckConfig, QualityCheckStep
from sagemaker.train.model_trainer import ModelTrainer

from mlops_kit.pipelines import _common
from mlops_kit.pipelines import tabular_training as template

# ModelTrainer resolves its role while it is constructed, before ``role`` can be set to
# the caller's value; this stand-in satisfies that check and never reaches the JSON.
_STAND_IN_ROLE = "arn:aws:iam::000000000000:role/mlops-kit-stand-in"


@dataclass(frozen=True)
class Settings:
    session: Any
    pipeline_name: str
    role: str
    output_root: str
    default_input_uri: str
    code: dict[str, str]
    image: str
    kms: str
    model_package_group: str
    target_column: str
    metric_name: str
    metric_threshold: float
    processing_instance_type: str
    training_instance_type: str
    inference_instance_types: list[str]
    transform_instance_types: list[str]
    hyperparameters: dict[str, str]
    use_spot: bool
    max_runtime_seconds: int
    max_wait_seconds: int | None
    subnets: list[str]
    security_groups: list[str]
    isolate: bool
    cache_expire_after: str
    # The Model Monitor analyzer image (a placeholder for a CDK token); empty: no baseline step.
    monitor_image: str = ""


def build(settings: Settings) -> str:
    input_data = ParameterString(template.PARAM_INPUT_DATA, default_value=settings.default_input_uri)
    processing_type = ParameterString(
        template.PARAM_PROCESSING_INSTANCE, default_value=settings.processing_instance_type
    )
    training_type = ParameterString(
        template.PARAM_TRAINING_INSTANCE, default_value=settings.training_instance_type
    )

    preprocess = _preprocess_step(settings, input_data, processing_type)
    train = _train_step(settings, preprocess, training_type)
    report = PropertyFile(name="EvaluationReport", output_name="evaluation", path=template._EVALUATION_REPORT)
    evaluate = _evaluate_step(settings, preprocess, train, processing_type, report)
    metric = JsonGet(
        step_name=evaluate.name,
        property_file=report,
        json_path=f"binary_classification_metrics.{settings.metric_name}.value",
    )
    baseline = _baseline_step(settings, preprocess) if settings.monitor_image else None
    register = _common.register_model_step(
        template.STEP_REGISTER, _register_request(settings, train, evaluate, with_baseline=baseline is not None)
    )
    if baseline is not None:
        # Ordering only: the package names the baseline's files by URI, so it is registered
        # after the analyzer wrote them (and locally, where the analyzer does not run, the
        # runner still registers: the demo supplies a fixture baseline at those URIs).
        register.add_depends_on([baseline])
    fail = FailStep(
        name=template.STEP_FAIL,
        error_message=Join(
            on=" ",
            values=[
                f"Model not registered: test {settings.metric_name}",
                metric,
                f"is below the threshold {settings.metric_threshold}.",
            ],
        ),
    )
    gate = ConditionStep(
        name=template.STEP_CHECK,
        conditions=[ConditionGreaterThanOrEqualTo(left=metric, right=settings.metric_threshold)],
        if_steps=[register],
        else_steps=[fail],
    )
    pipeline = Pipeline(
        name=settings.pipeline_name,
        parameters=[input_data, processing_type, training_type],
        steps=[preprocess, *([baseline] if baseline is not None else []), train, evaluate, gate],
        sagemaker_session=settings.session,
        # No SageMaker Experiments trial per run: it is not needed for lineage, and
        # tracking belongs to the shared assets tier.
        pipeline_experiment_config=None,
    )
    definition: str = pipeline.definition()
    if baseline is not None:
        definition = _fix_baseline_request(definition, settings)
    return definition


def _fix_baseline_request(definition: str, settings: Settings) -> str:
    """Two gaps of the SDK's QualityCheckStep: it looks the analyzer image up for the session's
    pinned region (the caller's, a per-region CDK mapping, replaces it, as for every other image
    of the template), and it puts its NetworkConfig object into the request unserialized, so the
    step gets the request form of the template's own processing network here."""
    document = json.loads(definition)
    step = next(step for step in document["Steps"] if step["Name"] == template.STEP_BASELINE)
    arguments = step["Arguments"]
    if arguments["AppSpecification"]["ImageUri"] != _analyzer_image(settings.session):
        raise AssertionError("the SDK's QualityCheckStep names another analyzer image than image_uris reports")
    arguments["AppSpecification"]["ImageUri"] = settings.monitor_image
    network = _common.processing_network(settings.subnets, settings.security_groups, settings.isolate)
    arguments["NetworkConfig"] = network._to_request_dict()
    return json.dumps(document)


def _analyzer_image(session: Any) -> str:
    from sagemaker.core import image_uris

    uri: str = image_uris.retrieve("model-monitor", region=session.boto_region_name)
    return uri


def _baseline_step(settings: Settings, preprocess: ProcessingStep) -> QualityCheckStep:
    """The SDK's QualityCheckStep (AWS's analyzer image): statistics.json and constraints.json
    of the training split, written to ``<run>/baseline/``; skip_check with
    register_new_baseline, since there is no earlier baseline to check a first model against."""
    config = DataQualityCheckConfig(
        baseline_dataset=_split_uri(preprocess, "train"),
        dataset_format=DatasetFormat.csv(header=True),
        output_s3_uri=_output_uri(settings, template.BASELINE_FOLDER),
    )
    job = CheckJobConfig(
        role=settings.role,
        instance_type=settings.processing_instance_type,
        volume_size_in_gb=20,
        volume_kms_key=settings.kms,
        output_kms_key=settings.kms,
        max_runtime_in_seconds=settings.max_runtime_seconds,
        base_job_name="baseline",
        sagemaker_session=settings.session,
        # NetworkConfig is added to the request afterwards (_fix_baseline_request).
    )
    return QualityCheckStep(
        name=template.STEP_BASELINE,
        quality_check_config=config,
        check_job_config=job,
        skip_check=True,
        register_new_baseline=True,
        cache_config=_common.cache_config(settings.cache_expire_after),
    )


def _output_uri(settings: Settings, *parts: str) -> Join:
    """One folder per execution, so runs never overwrite each other's data."""
    return Join(on="/", values=[settings.output_root, ExecutionVariables.PIPELINE_EXECUTION_ID, *parts])


def _processor(settings: Settings, instance_type: ParameterString, job: str) -> ScriptProcessor:
    return ScriptProcessor(
        role=settings.role,
        image_uri=settings.image,
        command=["python3"],
        instance_type=instance_type,
        instance_count=1,
        volume_kms_key=settings.kms,
        output_kms_key=settings.kms,
        max_runtime_in_seconds=settings.max_runtime_seconds,
        base_job_name=job,
        sagemaker_session=settings.session,
        network_config=_common.processing_network(
            settings.subnets, settings.security_groups, settings.isolate
        ),
    )


def _s3_input(name: str, uri: Any, local_path: str) -> ProcessingInput:
    return ProcessingInput(
        input_name=name,
        s3_input=ProcessingS3Input(
            s3_uri=uri, local_path=local_path, s3_data_type="S3Prefix", s3_input_mode="File"
        ),
    )


def _s3_output(name: str, uri: Any, local_path: str) -> ProcessingOutput:
    return ProcessingOutput(
        output_name=name,
        s3_output=ProcessingS3Output(s3_uri=uri, local_path=local_path, s3_upload_mode="EndOfJob"),
    )


def _preprocess_step(
    settings: Settings, input_data: ParameterString, instance_type: ParameterString
) -> ProcessingStep:
    splits = ("train", "validation", "test")
    step_args = _processor(settings, instance_type, "preprocess").run(
        code=settings.code["preprocess"],
        inputs=[_s3_input("raw", input_data, f"{template._PROCESSING}/input/data")],
        outputs=[
            _s3_output(split, _output_uri(settings, "data", split), f"{template._PROCESSING}/{split}")
            for split in splits
        ],
        arguments=["--target-column", settings.target_column],
    )
    return ProcessingStep(
        name=template.STEP_PREPROCESS,
        step_args=step_args,
        cache_config=_common.cache_config(settings.cache_expire_after),
    )


def _split_uri(step: ProcessingStep, split: str) -> Any:
    return step.properties.ProcessingOutputConfig.Outputs[split].S3Output.S3Uri


def _train_step(
    settings: Settings, preprocess: ProcessingStep, instance_type: ParameterString
) -> TrainingStep:
    script = settings.code["train"].rsplit("/", 1)[-1]
    trainer = ModelTrainer(
        training_image=settings.image,
        role=_STAND_IN_ROLE,
        sagemaker_session=settings.session,
        base_job_name="train",
        compute=Compute(
            instance_type=instance_type,
            instance_count=1,
            volume_kms_key_id=settings.kms,
            enable_managed_spot_training=settings.use_spot,
        ),
        networking=Networking(
            subnets=settings.subnets or None,
            security_group_ids=settings.security_groups or None,
            enable_network_isolation=settings.isolate,
            enable_inter_container_traffic_encryption=True,
        ),
        stopping_condition=StoppingCondition(
            max_runtime_in_seconds=settings.max_runtime_seconds,
            max_wait_time_in_seconds=settings.max_wait_seconds,
        ),
        output_data_config=OutputDataConfig(
            s3_output_path=f"{settings.output_root}/models", kms_key_id=settings.kms
        ),
        # Script mode of the scikit-learn container: the toolkit runs train.py from the
        # "code" channel (a local folder, so no source tarball is needed) and passes the
        # other hyperparameters to it as --name value.
        hyperparameters={
            "sagemaker_program": script,
            "sagemaker_submit_directory": template._TRAINING_CODE_DIR,
            "target_column": settings.target_column,
            **settings.hyperparameters,
        },
        input_data_config=[
            InputData(
                channel_name="train", data_source=_split_uri(preprocess, "train"), content_type="text/csv"
            ),
            InputData(
                channel_name="validation",
                data_source=_split_uri(preprocess, "validation"),
                content_type="text/csv",
            ),
            InputData(channel_name="code", data_source=settings.code["train"]),
        ],
    ).with_metric_definitions(
        [MetricDefinition(name="validation:accuracy", regex=r"validation:accuracy=([0-9.]+)")]
    )
    trainer.role = settings.role
    return TrainingStep(
        name=template.STEP_TRAIN,
        step_args=trainer.train(),
        cache_config=_common.cache_config(settings.cache_expire_after),
        # Spot capacity can run out; try again later rather than fail the run.
        retry_policies=[
            SageMakerJobStepRetryPolicy(
                exception_types=[SageMakerJobExceptionTypeEnum.CAPACITY_ERROR],
                interval_seconds=60,
                backoff_rate=2.0,
                max_attempts=3,
            )
        ],
    )


def _evaluate_step(
    settings: Settings,
    preprocess: ProcessingStep,
    train: TrainingStep,
    instance_type: ParameterString,
    report: PropertyFile,
) -> ProcessingStep:
    step_args = _processor(settings, instance_type, "evaluate").run(
        code=settings.code["evaluate"],
        inputs=[
            _s3_input(
                "model", train.properties.ModelArtifacts.S3ModelArtifacts, f"{template._PROCESSING}/model"
            ),
            _s3_input("test", _split_uri(preprocess, "test"), f"{template._PROCESSING}/test"),
        ],
        outputs=[
            _s3_output(
                "evaluation", _output_uri(settings, "evaluation"), f"{template._PROCESSING}/evaluation"
            )
        ],
    )
    return ProcessingStep(
        name=template.STEP_EVALUATE,
        step_args=step_args,
        property_files=[report],
        cache_config=_common.cache_config(settings.cache_expire_after),
    )


def baseline_files(settings: Settings) -> dict[str, Any]:
    """The baseline as a package carries it: Model Monitor's statistics and constraints files."""
    return {
        kind: {"ContentType": "application/json", "S3Uri": _output_uri(settings, template.BASELINE_FOLDER, f"{kind.lower()}.json")}
        for kind in ("Statistics", "Constraints")
    }


def _register_request(
    settings: Settings, train: TrainingStep, evaluate: ProcessingStep, *, with_baseline: bool
) -> dict[str, Any]:
    """``CreateModelPackage``: a version in the group, waiting for a person to approve it, with
    its own data-quality baseline (DriftCheckBaselines, read by the deploy flow's schedule)."""
    report_uri = Join(
        on="/",
        values=[
            evaluate.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri,
            template._EVALUATION_REPORT,
        ],
    )
    return {
        "ModelPackageGroupName": settings.model_package_group,
        "ModelApprovalStatus": "PendingManualApproval",
        "InferenceSpecification": {
            "Containers": [
                {
                    "Image": settings.image,
                    "ModelDataUrl": train.properties.ModelArtifacts.S3ModelArtifacts,
                    "Environment": dict(template._SERVING_ENVIRONMENT),
                }
            ],
            "SupportedContentTypes": list(template._CONTENT_TYPES),
            "SupportedResponseMIMETypes": list(template._CONTENT_TYPES),
            "SupportedRealtimeInferenceInstanceTypes": settings.inference_instance_types,
            "SupportedTransformInstanceTypes": settings.transform_instance_types,
        },
        "ModelMetrics": {
            "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": report_uri}},
            **({"ModelDataQuality": baseline_files(settings)} if with_baseline else {}),
        },
        **({"DriftCheckBaselines": {"ModelDataQuality": baseline_files(settings)}} if with_baseline else {}),
        "Domain": "MACHINE_LEARNING",
        "Task": "CLASSIFICATION",
        "CustomerMetadataProperties": {
            "QualityMetric": settings.metric_name,
            "QualityThreshold": str(settings.metric_threshold),
        },
    }
