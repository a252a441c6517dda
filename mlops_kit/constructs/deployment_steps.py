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

POLL_SECONDS = 60
VARIANT = "AllTraffic"
# Endpoint statuses that end a wait loop with a Fail state (DescribeEndpoint's EndpointStatus).
FAILED_STATUSES = ("OutOfService", "Failed", "UpdateRollbackFailed", "Deleting")
# Retry with backoff on SageMaker calls: throttling, and (for CreateEndpoint/UpdateEndpoint) a
# just-created config that is not visible yet, which SageMaker reports as a validation error.
THROTTLED = ["SageMaker.ThrottlingException", "ThrottlingException"]
NOT_YET_VISIBLE = ["SageMaker.AmazonSageMakerException", "SageMaker.ValidationException"]


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


class DeploymentSteps(Construct):
    """Builds the flow's SageMaker tasks; the subclass sets the names, role, key and VPC first."""

    _base: str
    _role: iam.IRole
    _key: kms.IKey
    _vpc: dict[str, object]
    _arns: dict[str, str]
    production_endpoint_name: str

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
        expression = "cron(0 * ? * * *)" if production.monitoring_schedule == "hourly" else "cron(0 0 ? * * *)"
        create = self._call(
            "CreateDataQualityMonitoring",
            "sagemaker",
            "createMonitoringSchedule",
            {
                "MonitoringScheduleName": f"{self.production_endpoint_name}-data-quality",
                "MonitoringScheduleConfig": {
                    "MonitoringType": "DataQuality",
                    "ScheduleConfig": {"ScheduleExpression": expression},
                    "MonitoringJobDefinition": {
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
                        "MonitoringResources": {
                            "ClusterConfig": {
                                "InstanceCount": 1,
                                "InstanceType": "ml.m5.large",
                                "VolumeSizeInGB": 20,
                                "VolumeKmsKeyId": self._key.key_arn,
                            }
                        },
                        "NetworkConfig": {"EnableNetworkIsolation": False, "EnableInterContainerTrafficEncryption": True, "VpcConfig": self._vpc},
                        "RoleArn": self._role.role_arn,
                        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
                    },
                },
            },
            [self._arns["monitoring-schedule"]],
            result_path=sfn.JsonPath.DISCARD,
        )
        # Describe first (a second version finds the schedule there): the error names of a
        # failed create differ between AWS SDK integrations, so none is caught by name.
        find = self._retry(
            self._call(
                "FindDataQualityMonitoring",
                "sagemaker",
                "describeMonitoringSchedule",
                {"MonitoringScheduleName": f"{self.production_endpoint_name}-data-quality"},
                [self._arns["monitoring-schedule"]],
                result_path=sfn.JsonPath.DISCARD,
            )
        )
        self._retry(create)
        already = sfn.Pass(self, "MonitoringAlreadyScheduled")
        done = sfn.Pass(self, "MonitoringScheduled")
        find.add_catch(create, errors=["States.TaskFailed"], result_path=sfn.JsonPath.DISCARD)
        find.next(already)
        create.next(done)
        already.next(done)
        return sfn.Chain.custom(find, [done], done)

