"""From an approved model package to staging and production endpoints, as a Step Functions flow.

Why Step Functions and not CodePipeline: the flow starts from an EventBridge approval event
(not a source change), polls endpoints until they are in service, checks that the live
endpoint runs the configuration it was given (SageMaker can roll an update back to the
old configuration while the update "succeeds"), waits for a human approval with a task
token, and calls SageMaker and Application Auto Scaling directly through AWS SDK
integrations: no Lambda code, nothing to build, and every step visible in one execution.

Flow: approved package -> model -> staging endpoint -> in service and running the new config
-> manual approval (SNS message with the task token) -> production endpoint (instances, data
capture, canary or linear traffic shifting with alarm rollback) -> in service and running the
new config -> autoscaling -> data-quality monitoring schedule with the package's own baseline
(``DriftCheckBaselines.ModelDataQuality`` -> ``BaselineConfig``).

Facts from AWS this flow is built on:

- Staging is instance-backed by default (one instance of the smallest type, in the VPC, with
  network isolation): serverless inference takes no VPC configuration and no network isolation
  (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html, "Feature
  exclusions"). Serverless staging is an explicit choice and gets a model of its own, created
  without ``VpcConfig``; no endpoint serves the VPC model from a serverless variant.
- SageMaker may send several events for one state change
  (https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html),
  and an EventBridge Step Functions target starts an execution with a generated name
  (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-custom-bus-target-sfn.html), so
  StartExecution cannot be made idempotent by name. The guard is the model: every SageMaker
  name is derived from the package version (``<base>-v<N>``), CreateModel refuses a name that
  exists, and an execution whose CreateModel finds the package's model already there ends in
  ``AlreadyDeploying`` without touching an endpoint.
- A wait loop describes first and waits only while the endpoint is Creating, Updating,
  SystemUpdating or RollingBack; OutOfService, Failed, UpdateRollbackFailed and Deleting end
  the execution in a Fail state that names the endpoint and the status.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from mlops_kit.constructs.deployment_steps import (
    VARIANT,
    DeploymentSteps,
    ProductionSettings,
    StagingSettings,
)
from mlops_kit.constructs.model_registry import approval_event_pattern
from mlops_kit.constructs.monitoring_alarms import PROBLEM_TYPES, MonitoringAlarms
from mlops_kit.constructs.regional import regional_value
from mlops_kit.errors import PropsError
from mlops_kit.nag import suppress

STAGING_TYPES = ("instance", "serverless")
# Which endpoints one environment's flow deploys: both in a single account; with delivery
# across accounts, the staging account runs the staging part and the production account the
# approval and the production part.
STAGES = ("staging-and-production", "staging", "production")
APPROVAL_TIMEOUT = Duration.days(7)


def model_monitor_image_by_region() -> dict[str, str]:
    """The Model Monitor analyzer image per region (shipped data checked against the SDK, no AWS call)."""
    from mlops_kit.pipelines.images import model_monitor_image_uri_by_region

    return model_monitor_image_uri_by_region()


class ModelDeployment(DeploymentSteps):
    """Deploys every approved package of one model package group to staging, then production.

    ``endpoint_base`` names the endpoints ``<base>-staging`` and ``<base>-production``.
    ``approval_topic`` receives the message (with the task token and the command to run)
    that asks for the promotion to production; approvers answer with
    ``aws stepfunctions send-task-success`` or ``send-task-failure``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_base: str,
        model_package_group_name: str,
        execution_role: iam.IRole,
        encryption_key: kms.IKey,
        capture_bucket: s3.IBucket,
        subnet_ids: Sequence[str],
        security_group_ids: Sequence[str],
        staging: StagingSettings,
        production: ProductionSettings,
        logs_key: kms.IKey | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        stages: str = "staging-and-production",
        package_account: str | None = None,
        notify_emails: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        if stages not in STAGES:
            raise PropsError("ModelDeployment", "stages", f"got {stages!r}; allowed: {', '.join(STAGES)}")
        if package_account is not None and not re.fullmatch(r"\d{12}", package_account):
            raise PropsError("ModelDeployment", "package_account", f"got {package_account!r}; allowed: a 12-digit account ID")
        if staging.endpoint_type not in STAGING_TYPES:
            raise PropsError("ModelDeployment", "staging.endpoint_type", f"got {staging.endpoint_type!r}; allowed: {', '.join(STAGING_TYPES)}")
        if production.rollout not in ("canary", "linear", "all-at-once"):
            raise PropsError("ModelDeployment", "production.rollout", f"got {production.rollout!r}; allowed: canary, linear, all-at-once")
        if production.model_quality is not None and production.model_quality.problem_type not in PROBLEM_TYPES:
            raise PropsError(
                "ModelDeployment", "production.model_quality.problem_type",
                f"got {production.model_quality.problem_type!r}; allowed: {', '.join(PROBLEM_TYPES)}",
            )
        if production.max_instances < production.min_instances:
            raise PropsError("ModelDeployment", "production.max_instances", "must be at least production.min_instances")
        if len(f"{endpoint_base}-production") > 63:
            raise PropsError("ModelDeployment", "endpoint_base", f"{endpoint_base!r} makes endpoint names longer than 63 characters")
        stack = Stack.of(self)
        self.staging_endpoint_name = f"{endpoint_base}-staging"
        self.production_endpoint_name = f"{endpoint_base}-production"
        self.stages = stages
        deploys_staging, deploys_production = stages != "production", stages != "staging"
        self.endpoint_names = [
            name for name, deployed in ((self.staging_endpoint_name, deploys_staging), (self.production_endpoint_name, deploys_production))
            if deployed
        ]
        self._base = endpoint_base
        self._role = execution_role
        self._key = encryption_key
        self._vpc = {"Subnets": list(subnet_ids), "SecurityGroupIds": list(security_group_ids)}

        def arn(resource: str) -> str:
            return stack.format_arn(service="sagemaker", resource=resource, resource_name=f"{endpoint_base}-*")

        self._arns = {
            "model": arn("model"),
            "endpoint-config": arn("endpoint-config"),
            "endpoint": arn("endpoint"),
            "monitoring-schedule": arn("monitoring-schedule"),
            "model-quality-job-definition": arn("model-quality-job-definition"),
            "model-package": stack.format_arn(service="sagemaker", resource="model-package", resource_name=f"{model_package_group_name}/*"),
        }

        self.serverless_staging = deploys_staging and staging.endpoint_type == "serverless"
        self.monitors_model_quality = deploys_production and production.monitoring and production.model_quality is not None
        definition: sfn.Chain = self._model_step()
        if self.serverless_staging:
            definition = definition.next(self._staging_model_step())
        if deploys_staging:
            definition = definition.next(
                self._deploy("Staging", self.staging_endpoint_name, self._staging_config(staging), deployment_config=None)
            )
        self.approval_topic: sns.Topic | None = None
        self.monitoring_alarms: list[cloudwatch.Alarm] = []
        if deploys_production:
            definition = self._add_production(definition, production, capture_bucket)
        definition = definition.next(sfn.Succeed(self, "Deployed"))

        log_group = logs.LogGroup(
            self, "Logs", retention=log_retention, encryption_key=logs_key, removal_policy=RemovalPolicy.RETAIN
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=Duration.days(8),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        execution_role.grant_pass_role(self.state_machine.role)
        capture_bucket.grant_read_write(self.state_machine)
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                sid="AutoScalingServiceLinkedRole",
                actions=["iam:CreateServiceLinkedRole"],
                resources=[f"arn:{stack.partition}:iam::{stack.account}:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/*"],
                conditions={"StringLike": {"iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com"}},
            )
        )

        if package_account is not None and package_account != stack.account:
            # Approved packages live in the training account's registry; its group policy lets
            # this account read them, and this statement lets the flow use them.
            self.state_machine.add_to_role_policy(
                iam.PolicyStatement(
                    sid="UseTrainingAccountPackages",
                    actions=["sagemaker:DescribeModelPackage"],
                    resources=[
                        f"arn:{stack.partition}:sagemaker:{stack.region}:{package_account}:model-package/{model_package_group_name}/*"
                    ],
                )
            )
        self.approval_rule = events.Rule(
            self,
            "OnApproved",
            description=f"Deploy approved packages of {model_package_group_name}",
            event_pattern=approval_event_pattern(model_package_group_name),
            targets=[targets.SfnStateMachine(self.state_machine)],
        )
        self._suppress()
        self.alarm_topic: sns.Topic | None = None
        self._wire_notifications(notify_emails)

    def _wire_notifications(self, emails: Sequence[str]) -> None:
        """Approval requests, rollback and monitoring alarms reach people: the addresses from config.

        The rollback and monitoring alarms notify an alarm topic (its own, so that alarm messages
        never carry a task token); without addresses the topics exist for subscribers
        added later (approvers may ``sns:Subscribe``).
        """
        if self.approval_topic is None:
            return
        self.alarm_topic = sns.Topic(
            self, "AlarmTopic", display_name=f"{self._base}: production alarms and budget", master_key=self._key, enforce_ssl=True
        )
        for topic in (self.approval_topic, self.alarm_topic):
            for email in emails:
                topic.add_subscription(subscriptions.EmailSubscription(email))
        for alarm in (self.error_alarm, self.latency_alarm, *self.monitoring_alarms):
            alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.alarm_topic))
            alarm.add_ok_action(cloudwatch_actions.SnsAction(self.alarm_topic))

    # -- the flow's parts ------------------------------------------------------------------

    def _add_production(self, definition: sfn.Chain, production: ProductionSettings, capture_bucket: s3.IBucket) -> sfn.Chain:
        """Approval (task token), production endpoint with guarded rollout, autoscaling, monitoring."""
        deploys_staging = self.stages != "production"
        approval_topic = self.approval_topic = sns.Topic(
            self, "ApprovalTopic", display_name=f"{self._base}: approve production deployment", master_key=self._key
        )
        approval_topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="TlsOnly",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["sns:Publish"],
                resources=[approval_topic.topic_arn],
                conditions={"Bool": {"aws:SecureTransport": "false"}},
            )
        )

        # Alarms that roll a production update back while traffic shifts.
        self.error_alarm = cloudwatch.Alarm(
            self,
            "ProductionErrorsAlarm",
            alarm_description=f"{self.production_endpoint_name}: model errors (rolls back a deployment)",
            metric=self._endpoint_metric("Invocation5XXErrors", "Sum"),
            threshold=1,
            evaluation_periods=2,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.latency_alarm = cloudwatch.Alarm(
            self,
            "ProductionLatencyAlarm",
            alarm_description=f"{self.production_endpoint_name}: p99 model latency over 2 s (rolls back a deployment)",
            metric=self._endpoint_metric("ModelLatency", "p99"),
            threshold=2_000_000,  # microseconds
            evaluation_periods=3,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

        monitor_image_uri = regional_value(self, "MonitorImages", model_monitor_image_by_region())

        approval = tasks.SnsPublish(
            self,
            "AskForProductionApproval",
            topic=approval_topic,
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            subject=f"{self._base}: approve production deployment",
            message=sfn.TaskInput.from_object(
                {
                    "model_package": sfn.JsonPath.string_at("$.detail.ModelPackageArn"),
                    "staging_endpoint": self.staging_endpoint_name if deploys_staging else "in the staging environment",
                    # No quotes in the commands: the output `{}` needs none in a shell, and a quoted
                    # literal in States.Format is mangled by moto's interpreter. The token is also
                    # given on its own, for tools that answer without a shell.
                    "task_token": sfn.JsonPath.task_token,
                    "approve": sfn.JsonPath.format(
                        "aws stepfunctions send-task-success --task-token {} --task-output {}", sfn.JsonPath.task_token, "{}"
                    ),
                    "reject": sfn.JsonPath.format(
                        "aws stepfunctions send-task-failure --error Rejected --task-token {}", sfn.JsonPath.task_token
                    ),
                }
            ),
            task_timeout=sfn.Timeout.duration(APPROVAL_TIMEOUT),
            result_path=sfn.JsonPath.DISCARD,
        )
        definition = definition.next(approval).next(
            self._deploy(
                "Production",
                self.production_endpoint_name,
                self._production_config(production, capture_bucket),
                deployment_config=self._deployment_config(production),
            )
        )
        definition = definition.next(self._autoscaling(production))
        if production.monitoring:
            definition = definition.next(self._monitoring(production, capture_bucket, monitor_image_uri))
            if production.model_quality is not None:
                definition = definition.next(self._model_quality(production, capture_bucket, monitor_image_uri))
            self.monitoring_alarms = MonitoringAlarms(
                self,
                "MonitoringAlarms",
                endpoint_name=self.production_endpoint_name,
                data_quality_schedule=self.data_quality_schedule_name,
                schedule=production.monitoring_schedule,
                drift_features=production.drift_features,
                drift_threshold=production.drift_threshold,
                model_quality_schedule=self.model_quality_schedule_name if production.model_quality is not None else None,
                model_quality_thresholds=production.model_quality.thresholds if production.model_quality is not None else None,
            ).alarms
        return definition


    def _endpoint_metric(self, name: str, statistic: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="AWS/SageMaker",
            metric_name=name,
            dimensions_map={"EndpointName": self.production_endpoint_name, "VariantName": VARIANT},
            statistic=statistic,
            period=Duration.minutes(1),
        )

    def _model_step(self) -> sfn.Chain:
        """CreateModel, named after the package version: the guard against a duplicate approval event."""
        create = self._retry(
            self._call(
                "CreateModel",
                "sagemaker",
                "createModel",
                {
                    "ModelName": self._model_name(),
                    "ExecutionRoleArn": self._role.role_arn,
                    "PrimaryContainer": {"ModelPackageName": sfn.JsonPath.string_at("$.detail.ModelPackageArn")},
                    "VpcConfig": self._vpc,
                    "EnableNetworkIsolation": True,
                },
                [self._arns["model"]],
                result_selector={"name.$": "$.ModelArn"},
                result_path="$.model",
            )
        )
        existing = self._retry(
            self._call(
                "FindExistingModel",
                "sagemaker",
                "describeModel",
                {"ModelName": self._model_name()},
                [self._arns["model"]],
                result_path=sfn.JsonPath.DISCARD,
            )
        )
        duplicate = sfn.Succeed(
            self,
            "AlreadyDeploying",
            comment="The package's model exists: another execution (a duplicate approval event) deploys it",
        )
        failed = sfn.Fail(
            self, "CreateModelFailed", error="CreateModelFailed", cause="CreateModel failed and no model of this package exists"
        )
        create.add_catch(existing, errors=["States.TaskFailed"], result_path="$.createModelError")
        existing.add_catch(failed, errors=["States.TaskFailed"], result_path=sfn.JsonPath.DISCARD)
        existing.next(duplicate)
        return sfn.Chain.start(create)

    def _staging_model_step(self) -> tasks.CallAwsService:
        """Serverless staging's own model: no VpcConfig, no network isolation (serverless takes neither)."""
        return self._retry(
            self._call(
                "CreateServerlessModel",
                "sagemaker",
                "createModel",
                {
                    "ModelName": self._model_name("-serverless"),
                    "ExecutionRoleArn": self._role.role_arn,
                    "PrimaryContainer": {"ModelPackageName": sfn.JsonPath.string_at("$.detail.ModelPackageArn")},
                },
                [self._arns["model"]],
                result_path=sfn.JsonPath.DISCARD,
            )
        )

    def _staging_config(self, staging: StagingSettings) -> dict[str, object]:
        if staging.endpoint_type == "serverless":
            variant: dict[str, object] = {
                "VariantName": VARIANT,
                "ModelName": self._model_name("-serverless"),
                "ServerlessConfig": {"MemorySizeInMB": staging.memory_mb, "MaxConcurrency": staging.max_concurrency},
            }
        else:
            variant = {
                "VariantName": VARIANT,
                "ModelName": self._model_name(),
                "InstanceType": staging.instance_type,
                "InitialInstanceCount": 1,
            }
        return {"KmsKeyId": self._key.key_arn, "ProductionVariants": [variant]} if "InstanceType" in variant else {"ProductionVariants": [variant]}

    def _production_config(self, production: ProductionSettings, capture_bucket: s3.IBucket) -> dict[str, object]:
        return {
            "KmsKeyId": self._key.key_arn,
            "ProductionVariants": [
                {
                    "VariantName": VARIANT,
                    "ModelName": self._model_name(),
                    "InstanceType": production.instance_type,
                    "InitialInstanceCount": production.min_instances,
                }
            ],
            "DataCaptureConfig": {
                "EnableCapture": True,
                "InitialSamplingPercentage": production.data_capture_percent,
                "DestinationS3Uri": f"s3://{capture_bucket.bucket_name}/data-capture",
                "KmsKeyId": self._key.key_arn,
                "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            },
        }

    def _deployment_config(self, production: ProductionSettings) -> dict[str, object]:
        if production.rollout == "all-at-once":
            routing: dict[str, object] = {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 300}
        elif production.rollout == "canary":
            routing = {"Type": "CANARY", "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10}, "WaitIntervalInSeconds": 600}
        else:
            routing = {"Type": "LINEAR", "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 25}, "WaitIntervalInSeconds": 300}
        return {
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": routing,
                "TerminationWaitInSeconds": 600,
                "MaximumExecutionTimeoutInSeconds": 7200,
            },
            "AutoRollbackConfiguration": {
                "Alarms": [{"AlarmName": self.error_alarm.alarm_name}, {"AlarmName": self.latency_alarm.alarm_name}]
            },
        }

    def _suppress(self) -> None:
        suppress(
            self.state_machine,
            "AwsSolutions-IAM5",
            "SageMaker resources are named <endpoint base>-<run id> by each execution, so the flow's "
            "policy names the project's prefix pattern; Application Auto Scaling authorises only on '*'; "
            "the capture bucket grant covers its objects",
            children=True,
        )
