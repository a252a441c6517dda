"""The ``batch-inference`` template: score a dataset with a registered model package.

Steps, in order::

    CreateModel (Model, from the package in ModelPackageArn) -> Transform (Transform)

``ModelPackageArn`` has no default on purpose: whoever starts the pipeline passes the
package to use, normally the latest *Approved* version of the project's model package
group (``ListModelPackages`` with ``ModelApprovalStatus=Approved``, sorted by
``CreationTime`` descending, first result), so only a person-approved model ever
scores data. The model runs with network isolation, inside the given VPC subnets when
there are any, and the transform writes its output encrypted with the KMS key.

The transform step is not cached: each run creates a new model, and a model's name is
part of a transform's cache key, so a cache entry could never match.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlops_kit.pipelines import _validate as check
from mlops_kit.pipelines._tokens import TokenVault
from mlops_kit.pipelines.errors import PipelineTemplateError

STEP_CREATE_MODEL = "CreateModel"
STEP_TRANSFORM = "Transform"

PARAM_MODEL_PACKAGE = "ModelPackageArn"
PARAM_INPUT_DATA = "InputDataUri"
PARAM_INSTANCE_TYPE = "TransformInstanceType"

_CONTENT_TYPES = ("text/csv", "application/json")
_SPLIT_TYPES = ("Line", "None")


def build_batch_inference_definition(
    *,
    pipeline_name: str,
    role_arn: str,
    artifact_bucket: str,
    data_prefix: str,
    kms_key_arn: str,
    instance_type: str = "ml.m5.large",
    instance_count: int = 1,
    content_type: str = "text/csv",
    split_type: str = "Line",
    max_payload_mb: int = 6,
    subnet_ids: Sequence[str] = (),
    security_group_ids: Sequence[str] = (),
    enable_network_isolation: bool = True,
) -> str:
    """Return the pipeline definition JSON of the batch inference template.

    String arguments may be AWS CDK tokens; they come out verbatim in the JSON. The
    input defaults to ``s3://<artifact_bucket>/<data_prefix>/batch/input/`` (parameter
    ``InputDataUri``); results go to
    ``s3://<artifact_bucket>/<data_prefix>/<pipeline_name>/<execution id>/predictions``,
    one ``<input file>.out`` per input file with a ``prediction,probability`` line per
    input line. ``TransformInstanceType`` can be overridden per execution.
    """
    check.pipeline_name(pipeline_name)
    check.arn("role_arn", role_arn, "iam")
    check.arn("kms_key_arn", kms_key_arn, "kms")
    check.bucket_name("artifact_bucket", artifact_bucket)
    check.s3_prefix("data_prefix", data_prefix)
    check.instance_type("instance_type", instance_type)
    check.positive_int("instance_count", instance_count, maximum=100)
    check.positive_int("max_payload_mb", max_payload_mb, maximum=100)
    if content_type not in _CONTENT_TYPES:
        raise PipelineTemplateError(
            "content_type", content_type, f"choose one of {', '.join(_CONTENT_TYPES)}"
        )
    if split_type not in _SPLIT_TYPES:
        raise PipelineTemplateError("split_type", split_type, f"choose one of {', '.join(_SPLIT_TYPES)}")
    subnets, groups = check.network(subnet_ids, security_group_ids)

    vault = TokenVault()
    role = vault.protect_role(role_arn)
    bucket, prefix, name = (
        vault.protect(artifact_bucket),
        vault.protect(data_prefix),
        vault.protect(pipeline_name),
    )
    kms = vault.protect(kms_key_arn)
    subnets = [vault.protect(subnet) for subnet in subnets]
    groups = [vault.protect(group_id) for group_id in groups]

    from mlops_kit.pipelines._sdk import offline_session

    with offline_session() as session:
        from sagemaker.core.transformer import Transformer
        from sagemaker.core.workflow.execution_variables import ExecutionVariables
        from sagemaker.core.workflow.functions import Join
        from sagemaker.core.workflow.parameters import ParameterString
        from sagemaker.mlops.workflow import Pipeline, TransformStep

        from mlops_kit.pipelines import _common

        package = ParameterString(PARAM_MODEL_PACKAGE)
        input_data = ParameterString(PARAM_INPUT_DATA, default_value=f"s3://{bucket}/{prefix}/batch/input/")
        transform_type = ParameterString(PARAM_INSTANCE_TYPE, default_value=instance_type)

        model_request: dict[str, object] = {
            "ExecutionRoleArn": role,
            "PrimaryContainer": {"ModelPackageName": package},
            "EnableNetworkIsolation": enable_network_isolation,
        }
        vpc = _common.vpc_config(subnets, groups)
        if vpc:
            model_request["VpcConfig"] = vpc
        create_model = _common.create_model_step(STEP_CREATE_MODEL, model_request)

        transformer = Transformer(
            model_name=create_model.properties.ModelName,
            instance_count=instance_count,
            instance_type=transform_type,
            strategy="MultiRecord" if split_type == "Line" else "SingleRecord",
            assemble_with="Line",
            accept=content_type,
            max_payload=max_payload_mb,
            output_path=Join(
                on="/",
                values=[
                    f"s3://{bucket}/{prefix}/{name}",
                    ExecutionVariables.PIPELINE_EXECUTION_ID,
                    "predictions",
                ],
            ),
            output_kms_key=kms,
            volume_kms_key=kms,
            base_transform_job_name="batch-inference",
            sagemaker_session=session,
        )
        transform = TransformStep(
            name=STEP_TRANSFORM,
            step_args=transformer.transform(
                data=input_data,
                data_type="S3Prefix",
                content_type=content_type,
                split_type=split_type,
            ),
        )
        pipeline = Pipeline(
            name=name,
            parameters=[package, input_data, transform_type],
            steps=[create_model, transform],
            sagemaker_session=session,
            pipeline_experiment_config=None,
        )
        definition: str = pipeline.definition()
    return vault.restore(definition)
