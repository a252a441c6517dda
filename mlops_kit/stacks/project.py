"""Tier 3: one stack per AI project, deployed and removed on its own.

It reaches the platform only through SSM parameters (``stacks.parameters``), never through
CloudFormation exports, so adding or deleting a project never blocks a backbone update.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path

from aws_cdk import CfnOutput, Fn, Stack, Tags
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mlops_kit.config import KitConfig, ProjectConfig
from mlops_kit.constructs.identity import SageMakerExecutionRole, boundary_name
from mlops_kit.constructs.model_deployment import ModelDeployment, ProductionSettings, StagingSettings
from mlops_kit.constructs.model_registry import ModelPackageGroup
from mlops_kit.constructs.project_insight import PROJECT_TAG, ProjectBudget, ProjectDashboard
from mlops_kit.constructs.regional import regional_value
from mlops_kit.constructs.retention import retention
from mlops_kit.constructs.sagemaker_pipeline import SageMakerPipeline
from mlops_kit.constructs.storage import SecureBucket
from mlops_kit.nag import suppress
from mlops_kit.stacks import parameters

PACKAGE_STEPS = Path(__file__).resolve().parents[1] / "pipelines" / "steps"
STEP_FILES = ("preprocess", "train", "evaluate")


def step_code(seed_folder: Path | None) -> dict[str, Path]:
    """The project's own step scripts when its seed folder has them, else the template's."""
    found: dict[str, Path] = {}
    for step in STEP_FILES:
        own = seed_folder / "steps" / f"{step}.py" if seed_folder else None
        found[step] = own if own is not None and own.is_file() else PACKAGE_STEPS / f"{step}.py"
    return found


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
                actions=[
                    "sagemaker:CreateProcessingJob", "sagemaker:CreateTrainingJob", "sagemaker:CreateTransformJob",
                    "sagemaker:CreateModel", "sagemaker:DescribeProcessingJob", "sagemaker:DescribeTrainingJob",
                    "sagemaker:DescribeTransformJob", "sagemaker:StopProcessingJob", "sagemaker:StopTrainingJob",
                    "sagemaker:StopTransformJob", "sagemaker:AddTags",
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
        pipeline_name = self.base_name
        settings = project.pipeline
        if project.template == "tabular-training":
            code = step_code(seed_folder)
            image_uri = regional_value(self, "SklearnImages", _sklearn_images())

            def definition(code_uris: Mapping[str, str]) -> str:
                from mlops_kit.pipelines import build_tabular_training_definition

                return build_tabular_training_definition(
                    pipeline_name=pipeline_name,
                    role_arn=self.execution_role.role_arn,
                    artifact_bucket=self.bucket.bucket_name,
                    data_prefix="pipeline",
                    code_uris=code_uris,
                    sklearn_image_uri=image_uri,
                    model_package_group_name=self.model_group.model_package_group_name,
                    kms_key_arn=data_key.key_arn,
                    target_column=settings.target_column,
                    metric_name=settings.metric,
                    metric_threshold=settings.threshold,
                    processing_instance_type=settings.processing_instance_type,
                    training_instance_type=settings.training_instance_type,
                    inference_instance_types=(project.deploy.production.instance_type,),
                    transform_instance_types=(settings.transform_instance_type,),
                    use_spot=settings.use_spot,
                    subnet_ids=subnet_ids,
                    security_group_ids=security_group_ids,
                )

            code_assets: dict[str, str | Path] | None = {name: path for name, path in code.items()}
        else:

            def definition(code_uris: Mapping[str, str]) -> str:
                from mlops_kit.pipelines import build_batch_inference_definition

                del code_uris
                return build_batch_inference_definition(
                    pipeline_name=pipeline_name,
                    role_arn=self.execution_role.role_arn,
                    artifact_bucket=self.bucket.bucket_name,
                    data_prefix="batch",
                    kms_key_arn=data_key.key_arn,
                    instance_type=settings.transform_instance_type,
                    subnet_ids=subnet_ids,
                    security_group_ids=security_group_ids,
                )

            code_assets = None
        self.pipeline = SageMakerPipeline(
            self,
            "Pipeline",
            pipeline_name=pipeline_name,
            definition=definition,
            role=self.execution_role,
            code_assets=code_assets,
            description=f"{prefix}: {project.template} pipeline of project {project.name}",
        )
        self.pipeline.grant_start_execution(self.team_role)

        # -- deploy flow: staging, approval, production ----------------------------------------
        endpoints: list[str] = []
        self.deployment: ModelDeployment | None = None
        if project.template == "tabular-training":
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
                staging=StagingSettings(memory_mb=project.deploy.staging.memory_mb, max_concurrency=project.deploy.staging.max_concurrency),
                production=ProductionSettings(
                    instance_type=production.instance_type,
                    min_instances=production.min_instances,
                    max_instances=production.max_instances,
                    target_invocations_per_instance=production.target_invocations_per_instance,
                    data_capture_percent=production.data_capture_percent,
                    rollout=production.rollout,
                    monitoring=project.monitoring.enabled,
                    monitoring_schedule=project.monitoring.schedule,
                ),
                log_retention=retention(config.audit.log_retention_days),
            )
            endpoints = [self.deployment.staging_endpoint_name, self.deployment.production_endpoint_name]
            self.team_role.add_to_principal_policy(
                iam.PolicyStatement(
                    sid="InvokeOwnEndpoints",
                    actions=["sagemaker:InvokeEndpoint", "sagemaker:DescribeEndpoint"],
                    resources=[self.format_arn(service="sagemaker", resource="endpoint", resource_name=name) for name in endpoints],
                )
            )
            self.team_role.add_to_principal_policy(
                iam.PolicyStatement(
                    sid="ApproveProductionDeployments",
                    actions=["states:SendTaskSuccess", "states:SendTaskFailure", "states:DescribeExecution"],
                    resources=[self.deployment.state_machine.state_machine_arn],
                )
            )

        # -- insight: dashboard and budget -----------------------------------------------------
        self.dashboard = ProjectDashboard(
            self, "Dashboard", dashboard_name=self.base_name, pipeline_name=pipeline_name, endpoint_names=endpoints
        )
        self.team_role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadOwnDashboard",
                actions=["cloudwatch:GetDashboard"],
                resources=[self.format_arn(service="cloudwatch", region="", resource="dashboard", resource_name=self.base_name)],
            )
        )
        ProjectBudget(
            self,
            "Budget",
            project_name=project.name,
            budget_name=self.base_name,
            monthly_limit_usd=project.budget.monthly_limit_usd,
            alert_emails=project.budget.alert_emails,
            alert_at_percent=project.budget.alert_at_percent,
        )

        # -- cost allocation: project, owner, tier on everything --------------------------------
        owner = project.owners[0].rsplit("/", 1)[-1] if project.owners else "unassigned"
        for key, value in {PROJECT_TAG: project.name, "kit:owner": owner, "kit:tier": "3", **project.tags}.items():
            Tags.of(self).add(key, value)

        CfnOutput(self, "PipelineName", value=pipeline_name)
        CfnOutput(self, "ModelPackageGroupName", value=self.model_group.model_package_group_name)
        CfnOutput(self, "DataBucketName", value=self.bucket.bucket_name)
        CfnOutput(self, "TeamRoleArn", value=self.team_role.role_arn)
        self._suppress(project)

    def _suppress(self, project: ProjectConfig) -> None:
        reason = (
            f"Scoped to project {project.name}: its own bucket's objects, KMS data-key variants on the kit key, "
            "SageMaker jobs the pipeline names pipelines-*, its own model packages, job logs under /aws/sagemaker/, "
            "and ECR/metrics/ENI calls that AWS authorises only on '*'"
        )
        suppress(self.execution_role, "AwsSolutions-IAM5", reason, children=True)
        suppress(self.team_role, "AwsSolutions-IAM5", reason, children=True)
