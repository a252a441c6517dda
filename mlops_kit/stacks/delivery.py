"""Tier 1: the kit's own CI/CD (owned by DevOps). Deployed once by hand, then it deploys itself.

``Delivery`` lives in the tooling account. Its pipeline synthesizes the kit from the
repository (running the same checks as ``make test``), updates itself, then deploys one
``PlatformStage`` per configured environment, in order, with a manual approval before
production. Each stage holds Backbone, SharedAssets and every project stack, and in the
environments after the training one a ``DeliveryAccess`` stack with the role project
build pipelines assume to promote their SageMaker pipeline definitions.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import CfnOutput, Stack, pipelines
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mlops_kit.config import KitConfig
from mlops_kit.config.delivery import DeliveryEnvironment
from mlops_kit.constructs.audit import Audit
from mlops_kit.constructs.delivery_pipeline import DeliveryPipeline
from mlops_kit.constructs.encryption import platform_key
from mlops_kit.constructs.identity import boundary_name
from mlops_kit.constructs.project_build import PromotionRole, pascal_case
from mlops_kit.constructs.storage import SecureBucket
from mlops_kit.platform import Platform, add_platform, tag


class DeliveryAccessStack(Stack):
    """What the training account's project builds may do in a later environment."""

    def __init__(self, scope: Construct, construct_id: str, *, prefix: str, training_account: str, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        boundary = iam.ManagedPolicy.from_managed_policy_name(self, "PermissionBoundary", boundary_name(prefix))
        self.promotion = PromotionRole(
            self, "PipelinePromotion", prefix=prefix, training_account=training_account, permissions_boundary=boundary
        )
        # The training account's project stacks forward approved model packages to this
        # account's default event bus, where each project's deploy flow picks them up.
        self.approvals = events.CfnEventBusPolicy(
            self,
            "TrainingAccountApprovals",
            event_bus_name="default",
            statement_id=f"{prefix}-training-account-approvals",
            statement={
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{self.partition}:iam::{training_account}:root"},
                "Action": "events:PutEvents",
                "Resource": f"arn:{self.partition}:events:{self.region}:{self.account}:event-bus/default",
                "Condition": {"StringEquals": {"events:source": "aws.sagemaker"}},
            },
        )
        CfnOutput(self, "PromotionRoleArn", value=self.promotion.role.role_arn)


class PlatformStage(cdk.Stage):
    """One environment of the platform, as deployed by the Delivery pipeline."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: KitConfig,
        environment: DeliveryEnvironment,
        training_account: str,
        projects_dir: Path | None = None,
    ) -> None:
        env = cdk.Environment(account=environment.account, region=environment.region)
        super().__init__(scope, construct_id, env=env)
        self.environment = environment
        self.platform: Platform = add_platform(
            self, config, env=env, termination_protection=environment.protected, projects_dir=projects_dir
        )
        # Ordering only, and only inside a pipeline stage: CDK Pipelines deploys a stage's
        # independent stacks in parallel, and a project's first deploy needs the platform's SSM
        # parameters. Nobody runs `cdk deploy` on a stage's stacks; at App level (no delivery)
        # project stacks have no dependency and deploy alone (platform.add_platform).
        for project in self.platform.projects.values():
            project.add_stack_dependency(self.platform.shared_assets)
        self.access: DeliveryAccessStack | None = None
        if environment.account != training_account:
            self.access = DeliveryAccessStack(
                self,
                "DeliveryAccess",
                prefix=config.prefix,
                training_account=training_account,
                env=env,
                stack_name=f"{config.prefix}-delivery-access",
                description=f"{config.prefix} MLOps platform, tier 1: roles the training account's project builds assume here",
            )
            # The permission boundary is the Backbone's, attached by its fixed name; each
            # project stack here grants the promotion role what its definition step needs.
            self.access.add_stack_dependency(self.platform.backbone)
            for project in self.platform.projects.values():
                project.add_stack_dependency(self.access)


class DeliveryStack(Stack):
    """The pipeline, its encrypted artifacts, its source and its failure notifications."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: KitConfig, projects_dir: Path | None = None, **kwargs: object
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        delivery = config.delivery
        if not delivery.enabled or delivery.source is None or delivery.tooling is None:
            raise ValueError("DeliveryStack needs delivery.enabled with tooling, source and environments (validated config)")
        prefix = config.prefix
        self.key = platform_key(
            self,
            "ArtifactKey",
            description=f"{prefix}: delivery pipeline artifacts, usable by the configured environments' deploy roles",
            alias=f"alias/{prefix}/delivery",
        )
        self.audit = Audit(
            self, "Audit", expiration_days=config.audit.access_logs_expiration_days, logs_key=self.key,
            data_events=False, data_events_bucket_prefix=f"{prefix}-",
        )
        self.artifact_bucket = SecureBucket(
            self, "ArtifactBucket", encryption_key=self.key, access_logs_bucket=self.audit.access_logs_bucket, log_prefix="artifacts",
            noncurrent_days=30,
        ).bucket

        source = delivery.source
        if source.kind == "codeconnections":
            assert source.repository is not None and source.connection_arn is not None
            code: pipelines.CodePipelineSource = pipelines.CodePipelineSource.connection(
                source.repository, source.branch, connection_arn=source.connection_arn, trigger_on_push=True
            )
        else:
            bucket: s3.IBucket
            if source.bucket is None:
                bucket = SecureBucket(
                    self, "SourceBucket", encryption_key=self.key, access_logs_bucket=self.audit.access_logs_bucket, log_prefix="source",
                ).bucket
                CfnOutput(self, "SourceBucketName", value=bucket.bucket_name, description=f"Upload the repository as s3://<this>/{source.object_key}")
            else:
                bucket = s3.Bucket.from_bucket_name(self, "SourceBucket", source.bucket)
            code = pipelines.CodePipelineSource.s3(bucket, source.object_key)

        self.pipeline = DeliveryPipeline(
            self,
            "Pipeline",
            source=code,
            artifact_bucket=self.artifact_bucket,
            encryption_key=self.key,
            pipeline_name=f"{prefix}-delivery",
            config_file=delivery.config_file,
            access_logs_expiration_days=config.audit.access_logs_expiration_days,
        )
        training = delivery.environments[0].account
        self.stages: list[PlatformStage] = []
        for environment in delivery.environments:
            stage = PlatformStage(
                self, pascal_case(environment.name), config=config, environment=environment, training_account=training,
                projects_dir=projects_dir,
            )
            approval = f"Deploy the {prefix} platform to {environment.name} ({environment.account}, {environment.region})"
            self.pipeline.add_environment(stage, approval=approval if environment.is_production else None)
            self.stages.append(stage)
        self.topic = self.pipeline.notify_failures(topic_key=self.key, email=delivery.notification_email)
        CfnOutput(self, "PipelineName", value=self.pipeline.pipeline.pipeline.pipeline_name)



def add_delivery(scope: Construct, config: KitConfig, *, projects_dir: Path | None = None) -> DeliveryStack:
    """The ``Delivery`` stack in the tooling account; its pipeline holds the platform's stages.

    The stack carries termination protection: deleting it by accident would stop delivery
    to every environment. An environment in another region adds the pipeline's artifact
    store there (``DeliveryArtifacts-<region>``, beside this stack). Tags are added here;
    the stages tag themselves (``add_platform``).
    """
    tooling = config.delivery.tooling
    if tooling is None:
        raise ValueError("delivery.tooling is required when delivery is enabled (validated config)")
    stack = DeliveryStack(
        scope,
        "Delivery",
        config=config,
        projects_dir=projects_dir,
        env=cdk.Environment(account=tooling.account, region=tooling.region),
        stack_name=f"{config.prefix}-delivery",
        description=f"{config.prefix} MLOps platform, tier 1: the kit's own CI/CD pipeline",
        termination_protection=True,
    )
    tag(stack, config)
    for regional in stack.pipeline.regional_stacks.values():
        tag(regional, config)
    return stack
