"""The SageMaker steps of the deploy flow: named, retried calls, the endpoint wait loop, autoscaling
and monitoring. ``ModelDeployment`` (``model_deployment``) composes them into the flow; the AWS
facts they rely on are listed there.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from mlops_kit.constructs.monitoring_alarms import ModelQualitySettings

POLL_SECONDS = 60
VARIANT = "AllTraffic"
# Endpoint statuses that end a wait loop with a Fail state (DescribeEndpoint's EndpointStatus).
FAILED_STATUSES = ("OutOfService", "Failed", "UpdateRollbackFailed", "Deleting")
# Retry with backoff on SageMaker calls: throttling, and (for CreateEndpoint/UpdateEndpoint) a
# just-created config that is not visible yet, which SageMaker reports as a validation error.
THROTTLED = ["SageMaker.ThrottlingException", "ThrottlingException"]
NOT_YET_VISIBLE = ["SageMaker.AmazonSageMakerException", "SageMaker.ValidationException"]


def _cron(schedule: str) -> str:
    return "cron(0 * ? * * *)" if schedule == "hourly" else "cron(0 0 ? * * *)"


@dataclass(frozen=True)
class StagingSettings:
    """``instance`` (default): one ``instance_type`` instance in the VPC with network isolation;
    ``serverless``: a serverless endpoint (``memory_mb``, ``max_concurrency``) whose model is
    created without VPC configuration, since serverless inference takes none."""

    endpoint_type: str = "instance"
    instance_type: str = "ml.t2.medium"
    memory_mb: int = 2048
    max_concurrency: int = 5


@dataclass(frozen=True)
class ProductionSettings:
    instance_type: str = "ml.m5.large"
    min_instances: int = 1
    max_instances: int = 4
    target_invocations_per_instance: int = 100
    data_capture_percent: int = 20
    rollout: str = "canary"
    monitoring: bool = True
    monitoring_schedule: str = "daily"
    drift_features: tuple[str, ...] = ()
    drift_threshold: float = 0.1
    model_quality: ModelQualitySettings | None = None


class DeploymentSteps(Construct):
    """Builds the flow's SageMaker tasks; the subclass sets the names, role, key and VPC first."""

    _base: str
    _role: iam.IRole
    _key: kms.IKey
    _vpc: dict[str, object]
    _arns: dict[str, str]
    production_endpoint_name: str

    @property
    def data_quality_schedule_name(self) -> str:
        return f"{self.production_endpoint_name}-data-quality"

    @property
    def model_quality_schedule_name(self) -> str:
        return f"{self.production_endpoint_name}-model-quality"

    def _job_network(self) -> dict[str, object]:
        return {"EnableNetworkIsolation": False, "EnableInterContainerTrafficEncryption": True, "VpcConfig": self._vpc}

    def _cluster(self) -> dict[str, object]:
        return {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 20, "VolumeKmsKeyId": self._key.key_arn}}

    def _upsert_schedule(self, kind: str, name: str, config: dict[str, object]) -> sfn.Chain:
        """Describe first (a later version finds the schedule there), then update, else create:
        the error names of a failed describe differ between AWS SDK integrations, so none is
        caught by name."""
        create = self._retry(
            self._call(
                f"Create{kind}Monitoring", "sagemaker", "createMonitoringSchedule",
                {"MonitoringScheduleName": name, "MonitoringScheduleConfig": config},
                [self._arns["monitoring-schedule"]], result_path=sfn.JsonPath.DISCARD,
            )
        )
        update = self._retry(
            self._call(
                f"Update{kind}Monitoring", "sagemaker", "updateMonitoringSchedule",
                {"MonitoringScheduleName": name, "MonitoringScheduleConfig": config},
                [self._arns["monitoring-schedule"]], result_path=sfn.JsonPath.DISCARD,
            )
        )
        find = self._retry(
            self._call(
                f"Find{kind}Monitoring", "sagemaker", "describeMonitoringSchedule", {"MonitoringScheduleName": name},
                [self._arns["monitoring-schedule"]], result_path=sfn.JsonPath.DISCARD,
            )
        )
        done = sfn.Pass(self, f"{kind}MonitoringScheduled")
        find.add_catch(create, errors=["States.TaskFailed"], result_path=sfn.JsonPath.DISCARD)
        find.next(update)
        create.next(done)
        update.next(done)
        return sfn.Chain.custom(find, [done], done)

    def _model_quality(self, production: ProductionSettings, capture_bucket: s3.IBucket, image_uri: str) -> sfn.Chain:
        """A job definition per version (definitions are immutable), then the schedule onto it."""
        quality = production.model_quality
        assert quality is not None
        endpoint_input: dict[str, object] = {"EndpointName": self.production_endpoint_name, "LocalPath": "/opt/ml/processing/input/endpoint"}
        for key, value in (
            ("InferenceAttribute", quality.inference_attribute),
            ("ProbabilityAttribute", quality.probability_attribute),
            ("ProbabilityThresholdAttribute", quality.probability_threshold),
        ):
            if value is not None:
                endpoint_input[key] = value
        definition_name = sfn.JsonPath.format(f"{self._base}-mq-{{}}", self._version())
        define = self._retry(
            self._call(
                "CreateModelQualityJobDefinition",
                "sagemaker",
                "createModelQualityJobDefinition",
                {
                    "JobDefinitionName": definition_name,
                    "ModelQualityAppSpecification": {"ImageUri": image_uri, "ProblemType": quality.problem_type},
                    "ModelQualityJobInput": {"EndpointInput": endpoint_input, "GroundTruthS3Input": {"S3Uri": quality.ground_truth_s3_uri}},
                    "ModelQualityJobOutputConfig": {
                        "KmsKeyId": self._key.key_arn,
                        "MonitoringOutputs": [
                            {"S3Output": {"S3Uri": f"s3://{capture_bucket.bucket_name}/monitoring/model-quality", "LocalPath": "/opt/ml/processing/output"}}
                        ],
                    },
                    "JobResources": self._cluster(),
                    "NetworkConfig": self._job_network(),
                    "RoleArn": self._role.role_arn,
                    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
                },
                [self._arns["model-quality-job-definition"]],
                result_path=sfn.JsonPath.DISCARD,
            )
        )
        schedule = self._upsert_schedule(
            "ModelQuality",
            self.model_quality_schedule_name,
            {
                "MonitoringType": "ModelQuality",
                "MonitoringJobDefinitionName": definition_name,
                "ScheduleConfig": {"ScheduleExpression": _cron(production.monitoring_schedule)},
            },
        )
        return sfn.Chain.start(define).next(schedule)

    def _call(self, construct_id: str, service: str, action: str, parameters: dict[str, object], resources: list[str], **kwargs: object) -> tasks.CallAwsService:
        return tasks.CallAwsService(
            self,
            construct_id,
            service=service,
            action=action,
            parameters=parameters,
            iam_resources=resources,
            **kwargs,  # type: ignore[arg-type]
        )

    def _version(self) -> str:
        """The package version from the approval event: every name this execution creates ends in ``-v<N>``."""
        return sfn.JsonPath.format("v{}", sfn.JsonPath.string_at("$.detail.ModelPackageVersion"))

    def _model_name(self, suffix: str = "") -> str:
        return sfn.JsonPath.format(f"{self._base}-{{}}{suffix}", self._version())

    def _retry(self, task: tasks.CallAwsService, *, not_yet_visible: bool = False) -> tasks.CallAwsService:
        """Backoff on throttling (every SageMaker call) and on a config not visible yet (create/update)."""
        task.add_retry(errors=THROTTLED, interval=Duration.seconds(2), backoff_rate=2, max_attempts=6, jitter_strategy=sfn.JitterType.FULL)
        if not_yet_visible:
            task.add_retry(errors=NOT_YET_VISIBLE, interval=Duration.seconds(5), backoff_rate=2, max_attempts=3)
        return task

    def _deploy(self, stage: str, endpoint: str, config: dict[str, object], *, deployment_config: dict[str, object] | None) -> sfn.Chain:
        """Create the endpoint config, create or update the endpoint, wait, verify the live config."""
        key = stage.lower()
        name = sfn.Pass(
            self,
            f"Name{stage}Config",
            parameters={"name": sfn.JsonPath.format(f"{endpoint}-{{}}", self._version())},
            result_path=f"$.{key}Config",
        )
        config_name = sfn.JsonPath.string_at(f"$.{key}Config.name")
        create_config = self._retry(
            self._call(
                f"Create{stage}EndpointConfig",
                "sagemaker",
                "createEndpointConfig",
                {"EndpointConfigName": config_name, **config},
                [self._arns["endpoint-config"]],
                result_path=sfn.JsonPath.DISCARD,
            )
        )
        # Not found is the answer "create it": no retry on validation errors here.
        find = self._retry(
            self._call(
                f"Find{stage}Endpoint",
                "sagemaker",
                "describeEndpoint",
                {"EndpointName": endpoint},
                [self._arns["endpoint"]],
                result_path=sfn.JsonPath.DISCARD,
            )
        )
        create = self._retry(
            self._call(
                f"Create{stage}Endpoint",
                "sagemaker",
                "createEndpoint",
                {"EndpointName": endpoint, "EndpointConfigName": config_name},
                [self._arns["endpoint"], self._arns["endpoint-config"]],
                result_path=sfn.JsonPath.DISCARD,
            ),
            not_yet_visible=True,
        )
        update_parameters: dict[str, object] = {"EndpointName": endpoint, "EndpointConfigName": config_name}
        if deployment_config is not None:
            update_parameters["DeploymentConfig"] = deployment_config
        update = self._retry(
            self._call(
                f"Update{stage}Endpoint",
                "sagemaker",
                "updateEndpoint",
                update_parameters,
                [self._arns["endpoint"], self._arns["endpoint-config"]],
                result_path=sfn.JsonPath.DISCARD,
            ),
            not_yet_visible=True,
        )
        wait = sfn.Wait(self, f"Wait{stage}", time=sfn.WaitTime.duration(Duration.seconds(POLL_SECONDS)))
        status = self._retry(
            self._call(
                f"Describe{stage}Endpoint",
                "sagemaker",
                "describeEndpoint",
                {"EndpointName": endpoint},
                [self._arns["endpoint"]],
                result_selector={"status.$": "$.EndpointStatus", "config.$": "$.EndpointConfigName"},
                result_path=f"$.{key}",
            )
        )
        failed = sfn.Fail(
            self,
            f"{stage}Failed",
            error=f"{stage}DeploymentFailed",
            cause_path=sfn.JsonPath.format(f"{endpoint} is {{}}: it will not reach InService", sfn.JsonPath.string_at(f"$.{key}.status")),
        )
        rolled_back = sfn.Fail(
            self,
            f"{stage}RolledBack",
            error=f"{stage}RolledBack",
            cause=f"{endpoint} is in service but not running this run's endpoint config: the update was rolled back",
        )
        done = sfn.Pass(self, f"{stage}InService")
        verify = (
            sfn.Choice(self, f"{stage}RunsNewConfig")
            .when(sfn.Condition.string_equals_json_path(f"$.{key}.config", f"$.{key}Config.name"), done)
            .otherwise(rolled_back)
        )
        ready = sfn.Choice(self, f"{stage}Ready").when(sfn.Condition.string_equals(f"$.{key}.status", "InService"), verify)
        ready.when(
            sfn.Condition.or_(*(sfn.Condition.string_equals(f"$.{key}.status", s) for s in FAILED_STATUSES)), failed
        ).otherwise(wait)
        # Describe first: an endpoint already in service (or failed) needs no wait.
        status.next(ready)
        wait.next(status)
        find.add_catch(create, errors=["States.TaskFailed"], result_path=sfn.JsonPath.DISCARD)
        find.next(update)
        create.next(status)
        update.next(status)
        name.next(create_config).next(find)
        return sfn.Chain.custom(name, [done], done)

    def _autoscaling(self, production: ProductionSettings) -> sfn.IChainable:
        resource_id = f"endpoint/{self.production_endpoint_name}/variant/{VARIANT}"
        register = self._call(
            "RegisterScalableTarget",
            "applicationautoscaling",
            "registerScalableTarget",
            {
                "ServiceNamespace": "sagemaker",
                "ResourceId": resource_id,
                "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
                "MinCapacity": production.min_instances,
                "MaxCapacity": production.max_instances,
            },
            ["*"],
            iam_action="application-autoscaling:RegisterScalableTarget",
            result_path=sfn.JsonPath.DISCARD,
        )
        policy = self._call(
            "PutScalingPolicy",
            "applicationautoscaling",
            "putScalingPolicy",
            {
                "PolicyName": f"{self.production_endpoint_name}-invocations",
                "ServiceNamespace": "sagemaker",
                "ResourceId": resource_id,
                "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
                "PolicyType": "TargetTrackingScaling",
                "TargetTrackingScalingPolicyConfiguration": {
                    "TargetValue": production.target_invocations_per_instance,
                    "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
                    "ScaleInCooldown": 300,
                    "ScaleOutCooldown": 60,
                },
            },
            ["*"],
            iam_action="application-autoscaling:PutScalingPolicy",
            result_path=sfn.JsonPath.DISCARD,
        )
        return register.next(policy)

    def _monitoring(self, production: ProductionSettings, capture_bucket: s3.IBucket, image_uri: str) -> sfn.IChainable:
        """The approved package's own baseline into the data-quality schedule: created for the
        first version, updated (new ``BaselineConfig``) for every later one. A package that
        carries no baseline gets no schedule: without statistics and constraints Model Monitor
        reports no violations and publishes no drift metrics."""
        name = self.data_quality_schedule_name
        baseline = "$.package.DriftCheckBaselines.ModelDataQuality"
        config: dict[str, object] = {
            "MonitoringType": "DataQuality",
            "ScheduleConfig": {"ScheduleExpression": _cron(production.monitoring_schedule)},
            "MonitoringJobDefinition": {
                "BaselineConfig": {
                    "ConstraintsResource": {"S3Uri": sfn.JsonPath.string_at(f"{baseline}.Constraints.S3Uri")},
                    "StatisticsResource": {"S3Uri": sfn.JsonPath.string_at(f"{baseline}.Statistics.S3Uri")},
                },
                "MonitoringAppSpecification": {"ImageUri": image_uri},
                "MonitoringInputs": [
                    {"EndpointInput": {"EndpointName": self.production_endpoint_name, "LocalPath": "/opt/ml/processing/input/endpoint"}}
                ],
                "MonitoringOutputConfig": {
                    "KmsKeyId": self._key.key_arn,
                    "MonitoringOutputs": [
                        {
                            "S3Output": {
                                "S3Uri": f"s3://{capture_bucket.bucket_name}/monitoring/data-quality",
                                "LocalPath": "/opt/ml/processing/output",
                            }
                        }
                    ],
                },
                "MonitoringResources": self._cluster(),
                "NetworkConfig": self._job_network(),
                "RoleArn": self._role.role_arn,
                "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
            },
        }
        package = self._retry(
            self._call(
                "DescribeApprovedPackage",
                "sagemaker",
                "describeModelPackage",
                {"ModelPackageName": sfn.JsonPath.string_at("$.detail.ModelPackageArn")},
                [self._arns["model-package"]],
                # The whole answer: a ResultSelector path that is missing (a package without
                # baselines) is a States.Runtime error no Catch takes; the Choice tests it.
                result_path="$.package",
            )
        )
        upsert = self._upsert_schedule("DataQuality", name, config)
        done = sfn.Pass(self, "MonitoringScheduled")
        upsert.next(done)
        no_baseline = sfn.Pass(self, "NoBaselineToMonitor", comment="The package carries no DriftCheckBaselines.ModelDataQuality")
        has_baseline = (
            sfn.Choice(self, "PackageHasBaseline")
            .when(
                sfn.Condition.and_(
                    sfn.Condition.is_present(f"{baseline}.Constraints.S3Uri"), sfn.Condition.is_present(f"{baseline}.Statistics.S3Uri")
                ),
                upsert,
            )
            .otherwise(no_baseline)
        )
        no_baseline.next(done)
        package.next(has_baseline)
        return sfn.Chain.custom(package, [done], done)
