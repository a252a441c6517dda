"""Tier 3: one stack per AI project, deployed and removed on its own.

It reaches the platform only through SSM parameters (``stacks.parameters``), never through
CloudFormation exports, so adding or deleting a project never blocks a backbone update.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cdk_nag
from aws_cdk import CfnOutput, Fn, Stack, Tags
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from mlops_kit.config import KitConfig, ProjectConfig
from mlops_kit.config.delivery import DeliveryEnvironment
from mlops_kit.config.project import MODEL_QUALITY_METRICS
from mlops_kit.constructs.approvers import ProductionApprovers, approver_roles
from mlops_kit.constructs.deployment_steps import ProductionSettings, StagingSettings
from mlops_kit.constructs.identity import SageMakerExecutionRole, boundary_name
from mlops_kit.constructs.model_deployment import ModelDeployment, model_monitor_image_by_region
from mlops_kit.constructs.model_registry import ModelPackageGroup, approval_event_pattern
from mlops_kit.constructs.monitoring_alarms import ModelQualitySettings
from mlops_kit.constructs.project_build import (
    ProjectBuildPipeline,
    ProjectSource,
    build_placement,
    build_role_name,
    pascal_case,
    promotion_role_name,
)
from mlops_kit.constructs.project_insight import PROJECT_TAG, ProjectBudget, ProjectDashboard
from mlops_kit.constructs.regional import regional_value
from mlops_kit.constructs.retention import retention
from mlops_kit.constructs.sagemaker_pipeline import SageMakerPipeline
from mlops_kit.constructs.storage import SecureBucket
from mlops_kit.nag import nag_arn, suppress
from mlops_kit.pipelines.context import (
    CODE_PREFIX,
    PipelineContext,
    build_definition,
    context_document,
    context_parameter_name,
    step_files,
)
from mlops_kit.stacks import parameters
from mlops_kit.stages import environment_of, in_training_environment

# Where the tabular template's training jobs write models (output_root/models).
MODEL_ARTIFACTS = "pipeline/*/models/*"


@dataclass(frozen=True)
class DeployPlacement:
    """What a project stack's deploy flow does in its environment."""

    stages: str = "staging-and-production"
    forward_to: tuple[DeliveryEnvironment, ...] = ()
    package_account: str | None = None
    package_region: str = ""


def deploy_placement(scope: Construct, config: KitConfig) -> DeployPlacement:
    """One account (delivery off, or one environment): the whole flow. Otherwise the training
    environment forwards approvals to the later ones; a production-kind environment runs the
    approval and the production part, any other later one the staging part."""
    delivery = config.delivery
    training, current = delivery.training_environment, environment_of(scope)
    later = tuple(delivery.environments[1:]) if training is not None else ()
    if training is None or current is None or not later:
        return DeployPlacement()
    if in_training_environment(scope, delivery):
        return DeployPlacement(forward_to=later)
    stages = "production" if current.is_production else "staging"
    return DeployPlacement(stages=stages, package_account=training.account, package_region=training.region)


def _model_quality(project: ProjectConfig) -> ModelQualitySettings | None:
    quality = project.monitoring.model_quality
    if quality is None:
        return None
    sides = MODEL_QUALITY_METRICS[quality.problem_type]
    return ModelQualitySettings(
        ground_truth_s3_uri=quality.ground_truth_s3_uri,
        problem_type=quality.problem_type,
        inference_attribute=quality.inference_attribute,
        probability_attribute=quality.probability_attribute,
        probability_threshold=quality.probability_threshold,
        thresholds={name: (bound, sides[name]) for name, bound in quality.thresholds.items()},
    )


# Where a project's seed code zip goes when the kit's source is S3 (closed networks).
SEED_CODE_PREFIX = "seed-code"


@cache
def _sklearn_images() -> dict[str, str]:
    """Computed once per synth: every project of the app uses the same table."""
    from mlops_kit.pipelines import sklearn_image_uri_by_region

    return sklearn_image_uri_by_region()


class ProjectStack(Stack):
    """The project's data, roles, model package group, pipeline, deploy flow, dashboard and budget."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: KitConfig,
        project: ProjectConfig,
        seed_folder: Path | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        prefix = config.prefix
        self.base_name = f"{prefix}-{project.name}"

        def platform(key: str) -> str:
            return parameters.lookup(self, prefix, key)

        data_key = kms.Key.from_key_arn(self, "DataKey", platform("data-key-arn"))
        access_logs = s3.Bucket.from_bucket_name(self, "AccessLogs", platform("access-logs-bucket-name"))
        datasets = s3.Bucket.from_bucket_attributes(
            self, "Datasets", bucket_arn=platform("datasets-bucket-arn"), encryption_key=data_key
        )
        subnet_ids = Fn.split(",", platform("private-subnet-ids"), config.network.az_count)
        security_group_ids = [platform("workload-security-group-id")]
        boundary = iam.ManagedPolicy.from_managed_policy_name(self, "Boundary", boundary_name(prefix))

        # -- data: the project's own bucket (inputs, pipeline artifacts, data capture) --------
        self.bucket = SecureBucket(
            self, "ProjectData", encryption_key=data_key, access_logs_bucket=access_logs, log_prefix=f"projects/{project.name}"
        ).bucket

        # -- roles -----------------------------------------------------------------------------
        self.execution_role = SageMakerExecutionRole(
            self,
            "ExecutionRole",
            prefix=prefix,
            data_key=data_key,
            boundary=boundary,
            description=f"{prefix}: SageMaker execution role of project {project.name} (its own data, models, pipeline)",
        ).role
        self.bucket.grant_read_write(self.execution_role)
        datasets.grant_read(self.execution_role, "curated/*")
        self.execution_role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="RunOwnPipelineJobs",
                # No Stop*: SageMaker names every project's pipeline jobs pipelines-*, so a
                # name-scoped stop would reach other projects' jobs (issue 16). A run is
                # stopped with StopPipelineExecution on the project's own pipeline.
                actions=[
                    "sagemaker:CreateProcessingJob", "sagemaker:CreateTrainingJob", "sagemaker:CreateTransformJob",
                    "sagemaker:CreateModel", "sagemaker:DescribeProcessingJob", "sagemaker:DescribeTrainingJob",
                    "sagemaker:DescribeTransformJob", "sagemaker:AddTags",
                ],
                resources=[
                    self.format_arn(service="sagemaker", resource=kind, resource_name="pipelines-*")
                    for kind in ("processing-job", "training-job", "transform-job", "model")
                ],
            )
        )
        self.execution_role.grant_pass_role(self.execution_role)

        self.team_role = iam.Role(
            self,
            "TeamRole",
            assumed_by=(
                iam.CompositePrincipal(*(iam.ArnPrincipal(arn) for arn in project.owners))
                if project.owners
                else iam.AccountRootPrincipal()
            ),
            description=f"{prefix}: project team of {project.name} (run its pipeline, read its data, approve its models)",
            permissions_boundary=boundary,
        )
        self.bucket.grant_read_write(self.team_role)
        data_key.grant_encrypt_decrypt(self.team_role)

        # -- model registry --------------------------------------------------------------------
        # Staging and production accounts read approved packages from the training account.
        reader_accounts = sorted(
            {*config.shared_assets.model_registry.reader_accounts, *config.delivery.deployment_accounts()}
            - {self.account}
        )
        self.model_group = ModelPackageGroup(
            self, "ModelPackageGroup", prefix=prefix, project=project.name, reader_accounts=reader_accounts
        )
        self.model_group.grant_register(self.execution_role)
        self.model_group.grant_approve(self.team_role)

        # -- the SageMaker pipeline -----------------------------------------------------------
        # The same arguments build the definition here and, published as the pipeline
        # context, in the project's build pipeline (its seed pipeline.py).
        pipeline_name = self.base_name
        settings = project.pipeline
        arguments: dict[str, object] = {
            "pipeline_name": pipeline_name,
            "role_arn": self.execution_role.role_arn,
            "artifact_bucket": self.bucket.bucket_name,
            "kms_key_arn": data_key.key_arn,
            "subnet_ids": subnet_ids,
            "security_group_ids": security_group_ids,
        }
        if project.template == "tabular-training":
            arguments |= {
                "data_prefix": "pipeline",
                "sklearn_image_uri": regional_value(self, "SklearnImages", _sklearn_images()),
                "model_package_group_name": self.model_group.model_package_group_name,
                "target_column": settings.target_column,
                "metric_name": settings.metric,
                "metric_threshold": settings.threshold,
                "processing_instance_type": settings.processing_instance_type,
                "training_instance_type": settings.training_instance_type,
                "inference_instance_types": [project.deploy.production.instance_type],
                "transform_instance_types": [settings.transform_instance_type],
                "use_spot": settings.use_spot,
                "monitor_image_uri": regional_value(self, "MonitorImages", model_monitor_image_by_region()),
            }
        else:
            arguments |= {"data_prefix": "batch", "instance_type": settings.transform_instance_type}
        context = PipelineContext(template=project.template, arguments=arguments)
        code: dict[str, str | Path] = dict(step_files(seed_folder, context.code_keys))
        self.pipeline = SageMakerPipeline(
            self,
            "Pipeline",
            pipeline_name=pipeline_name,
            definition=lambda code_uris: build_definition(context, code_uris),
            role=self.execution_role,
            code_assets=code or None,
            description=f"{prefix}: {project.template} pipeline of project {project.name}",
        )
        self.context_parameter = ssm.StringParameter(
            self,
            "PipelineContext",
            parameter_name=context_parameter_name(prefix, project.name),
            string_value=self.to_json_string(context_document(project.template, arguments)),
            description=f"{prefix}: what project {project.name}'s pipeline.py needs to rebuild its SageMaker pipeline here",
        )
        self.context_parameter.grant_read(self.team_role)

        # -- build pipeline: test the seed code, update and run the pipeline, promote it ----------
        self.build: ProjectBuildPipeline | None = None
        self._add_build(config, project, data_key, boundary)
        self.pipeline.grant_start_execution(self.team_role)

        # -- deploy flow: staging, approval, production ----------------------------------------
        # One account: the whole flow here. Delivery across environments: the training one
        # forwards approvals to the later ones, which deploy their part (staging or production).
        endpoints: list[str] = []
        self.deployment: ModelDeployment | None = None
        placement = deploy_placement(self, config)
        if project.template == "tabular-training" and placement.forward_to:
            self._forward_approvals(placement.forward_to)
        elif project.template == "tabular-training":
            production = project.deploy.production
            self.deployment = ModelDeployment(
                self,
                "Deployment",
                endpoint_base=self.base_name,
                model_package_group_name=self.model_group.model_package_group_name,
                execution_role=self.execution_role,
                encryption_key=data_key,
                logs_key=kms.Key.from_key_arn(self, "LogsKey", platform("logs-key-arn")),
                capture_bucket=self.bucket,
                subnet_ids=subnet_ids,
                security_group_ids=security_group_ids,
                staging=StagingSettings(
                    endpoint_type=project.deploy.staging.endpoint_type,
                    instance_type=project.deploy.staging.instance_type,
                    memory_mb=project.deploy.staging.memory_mb,
                    max_concurrency=project.deploy.staging.max_concurrency,
                ),
                production=ProductionSettings(
                    instance_type=production.instance_type,
                    min_instances=production.min_instances,
                    max_instances=production.max_instances,
                    target_invocations_per_instance=production.target_invocations_per_instance,
                    data_capture_percent=production.data_capture_percent,
                    rollout=production.rollout,
                    monitoring=project.monitoring.enabled,
                    monitoring_schedule=project.monitoring.schedule,
                    drift_features=tuple(project.monitoring.drift_features),
                    drift_threshold=project.monitoring.drift_threshold,
                    model_quality=_model_quality(project),
                ),
                log_retention=retention(config.audit.log_retention_days),
                stages=placement.stages,
                package_account=placement.package_account,
                notify_emails=project.notify_emails,
            )
            endpoints = self.deployment.endpoint_names
            if placement.package_account is not None and placement.package_account != self.account:
                self._read_training_models(placement.package_account, placement.package_region)
            self.team_role.add_to_principal_policy(
                iam.PolicyStatement(
                    sid="InvokeOwnEndpoints",
                    actions=["sagemaker:InvokeEndpoint", "sagemaker:DescribeEndpoint"],
                    resources=[self.format_arn(service="sagemaker", resource="endpoint", resource_name=name) for name in endpoints],
                )
            )
            if self.deployment.approval_topic is not None:
                ProductionApprovers(
                    self,
                    "ProductionApprovers",
                    approvers=approver_roles(self, config.prefix, project.approvers, team_role=self.team_role),
                    state_machine=self.deployment.state_machine,
                    approval_topic=self.deployment.approval_topic,
                )

        # -- insight: dashboard and budget -----------------------------------------------------
        monitored = self.deployment is not None and self.deployment.approval_topic is not None and project.monitoring.enabled
        self.dashboard = ProjectDashboard(
            self,
            "Dashboard",
            dashboard_name=self.base_name,
            pipeline_name=pipeline_name,
            endpoint_names=endpoints,
            monitored_endpoint=self.deployment.production_endpoint_name if monitored and self.deployment is not None else None,
            model_quality=project.monitoring.model_quality is not None,
            alarms=self.deployment.monitoring_alarms if self.deployment is not None else (),
        )
        self.team_role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadOwnDashboard",
                actions=["cloudwatch:GetDashboard"],
                resources=[self.format_arn(service="cloudwatch", region="", resource="dashboard", resource_name=self.base_name)],
            )
        )
        alert_topic = self.deployment.alarm_topic if self.deployment is not None else None
        ProjectBudget(
            self,
            "Budget",
            project_name=project.name,
            budget_name=self.base_name,
            monthly_limit_usd=project.budget.monthly_limit_usd,
            # notify_emails hear the budget through the notification topic when there is one.
            alert_emails=sorted({*project.budget.alert_emails, *([] if alert_topic is not None else project.notify_emails)}),
            alert_at_percent=project.budget.alert_at_percent,
            alert_topic=alert_topic,
        )

        # -- cost allocation: project, owner, tier on everything --------------------------------
        owner = project.owners[0].rsplit("/", 1)[-1] if project.owners else "unassigned"
        for key, value in {PROJECT_TAG: project.name, "kit:owner": owner, "kit:tier": "3", **project.tags}.items():
            Tags.of(self).add(key, value)

        CfnOutput(self, "PipelineName", value=pipeline_name)
        CfnOutput(self, "ModelPackageGroupName", value=self.model_group.model_package_group_name)
        CfnOutput(self, "DataBucketName", value=self.bucket.bucket_name)
        CfnOutput(self, "TeamRoleArn", value=self.team_role.role_arn)
        CfnOutput(self, "PipelineContextParameter", value=context_parameter_name(prefix, project.name))
        if self.build is not None:
            CfnOutput(self, "BuildPipelineName", value=self.build.pipeline.pipeline_name)
        self._suppress(project)

    def _forward_approvals(self, environments: Sequence[DeliveryEnvironment]) -> None:
        """Approved packages go to the later environments' default event buses, and they may read the models."""
        rule = events.Rule(
            self,
            "ForwardApprovals",
            description=f"Approved packages of {self.model_group.model_package_group_name} to the serving environments",
            event_pattern=approval_event_pattern(self.model_group.model_package_group_name),
        )
        for env in environments:
            bus = events.EventBus.from_event_bus_arn(
                self, f"DefaultBus{pascal_case(env.name)}", f"arn:{self.partition}:events:{env.region}:{env.account}:event-bus/default"
            )
            rule.add_target(targets.EventBus(bus))
        serving = sorted({env.account for env in environments} - {self.account})
        if serving:
            # SageMaker in a serving account fetches the approved model's artifact from here.
            self.bucket.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="ServingAccountsReadModelArtifacts",
                    principals=[iam.AccountPrincipal(account) for account in serving],
                    actions=["s3:GetObject"],
                    resources=[self.bucket.arn_for_objects(f"{MODEL_ARTIFACTS}")],
                )
            )

    def _read_training_models(self, account: str, region: str) -> None:
        """The serving side of cross-account deployment: model artifacts in the training account's project bucket."""
        self.execution_role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadTrainingAccountModelArtifacts",
                actions=["s3:GetObject"],
                resources=[f"arn:{self.partition}:s3:::*/{MODEL_ARTIFACTS}"],
                conditions={"StringEquals": {"s3:ResourceAccount": account}},
            )
        )
        self.execution_role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="DecryptTrainingAccountModelArtifacts",
                actions=["kms:Decrypt", "kms:DescribeKey"],
                resources=[f"arn:{self.partition}:kms:{region}:{account}:key/*"],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
            )
        )

    def _build_source(self, config: KitConfig, project: ProjectConfig) -> ProjectSource | None:
        """Where the project's seed code comes from, or None when nothing can be watched."""
        build = project.build
        delivery = config.delivery.source if config.delivery.enabled else None
        kit_connection = delivery.connection_arn if delivery is not None and delivery.kind == "codeconnections" else None
        if not build.enabled:
            return None
        if build.repository is not None:
            connection = build.connection_arn or kit_connection
            assert connection is not None, "load_project refuses build.repository without a connection"
            return ProjectSource.connection(connection_arn=connection, repository=build.repository, branch=build.branch or "main")
        if delivery is None:
            return None
        # projects/ sits beside the kit.yaml the Delivery pipeline synthesizes.
        folder = posixpath.normpath(posixpath.join(posixpath.dirname(config.delivery.config_file), "projects", project.name))
        if kit_connection is not None and delivery.repository is not None:
            return ProjectSource.connection(
                connection_arn=kit_connection, repository=delivery.repository, branch=delivery.branch, folder=folder,
                kit_in_source=True,
            )
        return ProjectSource.s3(
            bucket=self.bucket, key=f"{SEED_CODE_PREFIX}/{project.name}.zip", folder=folder,
            poll=not config.audit.cloudtrail_data_events, kit_in_source=True,
        )

    def _add_build(self, config: KitConfig, project: ProjectConfig, data_key: kms.IKey, boundary: iam.IManagedPolicy) -> None:
        """The build pipeline in the training environment; in later ones, what its promotion may do here."""
        source = self._build_source(config, project)
        if source is None:
            return
        placement = build_placement(self, config.delivery)
        if placement is not None:
            self.build = ProjectBuildPipeline(
                self,
                "Build",
                prefix=config.prefix,
                project_name=project.name,
                source=source,
                sagemaker_pipeline_name=self.pipeline.pipeline_name,
                artifact_bucket=self.bucket,
                encryption_key=data_key,
                environment_name=placement.environment_name,
                promotion_targets=placement.promotion_targets,
                test_command=project.build.test_command,
                start_run=project.build.start_run,
                context_parameter_name=context_parameter_name(config.prefix, project.name),
                permissions_boundary=boundary,
                log_retention=retention(config.audit.log_retention_days),
            )
            self.grant_rebuild(self.build.role)
            return
        training = config.delivery.training_environment
        assert training is not None, "build_placement places the build whenever delivery is off"
        # Promotion to this environment: the training account's build role when this is
        # the same account, else this account's promotion role (DeliveryAccess stack).
        name = build_role_name(config.prefix, project.name) if training.account == self.account else promotion_role_name(config.prefix)
        self.grant_rebuild(iam.Role.from_role_name(self, "PromotingRole", name))

    def grant_rebuild(self, grantee: iam.IRole) -> None:
        """What the seed's pipeline.py needs here: read the context, upload step code (KMS-encrypted)."""
        self.context_parameter.grant_read(grantee)
        self.bucket.grant_put(grantee, f"{CODE_PREFIX}/*")
        bucket_id = self.get_logical_id(self.bucket.node.default_child)  # type: ignore[arg-type]
        suppress(
            grantee,
            "AwsSolutions-IAM5",
            f"The seed's pipeline.py writes step code only under {CODE_PREFIX}/ of the project's own bucket (content-addressed "
            "folders); CDK's put grant adds multipart abort and the KMS data-key variants on the kit's data key",
            applies_to=[
                f"Resource::<{bucket_id}.Arn>/{CODE_PREFIX}/*", "Action::s3:Abort*", "Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*",
            ],
            children=True,
        )

    def _suppress(self, project: ProjectConfig) -> None:
        """The roles' IAM5 findings, each named: CDK's bucket/key grant variants and the project's own ARNs.

        ARNs are matched as patterns because cdk-nag prints ``<AWS::Region>`` for an
        environment-agnostic stack and the literal region and account for a pinned one.
        """
        bucket_id = self.get_logical_id(self.bucket.node.default_child)  # type: ignore[arg-type]
        grant_variants = [f"Action::{a}" for a in ("s3:Abort*", "s3:DeleteObject*", "s3:GetBucket*", "s3:GetObject*", "s3:List*")]
        kms_variants = ["Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*"]
        own: list[str | cdk_nag.RegexAppliesTo] = [f"Resource::<{bucket_id}.Arn>/*", nag_arn("sagemaker", f"model-package/{self.base_name}/*")]
        suppress(
            self.execution_role,
            "AwsSolutions-IAM5",
            f"Scoped to project {project.name}: CDK's read/write grant variants on its own bucket's objects and the "
            "platform datasets' curated/ prefix, CDK's asset bucket objects (step code), its own model packages, and the "
            "jobs and models SageMaker Pipelines names pipelines-* (no Stop*: names are shared by every project)",
            applies_to=[
                *grant_variants, *kms_variants, *own,
                cdk_nag.RegexAppliesTo(regex=r"/^Resource::arn:(?:<AWS::Partition>|[^:<>]+):s3:::cdk-hnb659fds-assets-[^/]+\/\*$/"),
                *(nag_arn("sagemaker", f"{kind}/pipelines-*") for kind in ("model", "processing-job", "training-job", "transform-job")),
                # the datasets bucket's ARN comes from an SSM parameter with a generated logical ID
                cdk_nag.RegexAppliesTo(regex=r"/^Resource::<SsmParameterValue[A-Za-z0-9]+Parameter>\/curated\/\*$/"),
                # serving environments read model artifacts of the training account (s3:ResourceAccount, kms:ViaService)
                cdk_nag.RegexAppliesTo(regex=r"/^Resource::arn:(?:<AWS::Partition>|[^:<>]+):s3:::\*\/pipeline\/\*\/models\/\*$/"),
                nag_arn("kms", "key/*"),
            ],
            children=True,
        )
        suppress(
            self.team_role,
            "AwsSolutions-IAM5",
            f"Scoped to project {project.name}: CDK's read/write grant variants on its own bucket's objects and the kit "
            "data key, its own model packages, and its own pipeline's executions",
            applies_to=[*grant_variants, *kms_variants, *own, nag_arn("sagemaker", f"pipeline/{self.base_name}/*")],
            children=True,
        )
        if self.deployment is not None:
            self._suppress_deployment(self.deployment)

    @staticmethod
    def _suppress_deployment(deployment: ModelDeployment) -> None:
        # AWS documents network isolation for monitoring jobs as an option but not whether the
        # built-in analyzer image runs under it; rather than a monitor that may fail only on AWS,
        # it runs in the VPC (private subnets, endpoints) with KMS on volume and output.
        findings = ["CreateDataQualityMonitoring/MonitoringJobDefinition/NetworkConfig/EnableNetworkIsolation"]
        if deployment.monitors_model_quality:
            findings.append("CreateModelQualityJobDefinition/NetworkConfig/EnableNetworkIsolation")
        suppress(
            deployment.state_machine, "KitSageMaker-MonitoringSecurity",
            "The data- and model-quality monitors run in the VPC's private subnets with KMS on volume and output; AWS "
            "does not document that the built-in analyzer image works under network isolation, so it is left off",
            applies_to=findings,
        )
