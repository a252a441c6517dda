"""The kit's own CI/CD: a self-mutating CDK pipeline that deploys the platform stage by stage."""

from __future__ import annotations

import re
from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import Aws, Duration, Stack, pipelines
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codestarnotifications as notifications
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct, IConstruct

from mlops_kit.constructs.audit import Audit
from mlops_kit.constructs.encryption import allow_cloudwatch_logs, platform_key
from mlops_kit.constructs.storage import SecureBucket
from mlops_kit.nag import apply_checks, suppress

# The CDK CLI the pipeline installs for synth and self-mutation. CDK Pipelines defaults to
# `latest`, which is 3.x and cannot read what aws-cdk-lib 2.x writes (see DESIGN.md).
CDK_CLI_VERSION = "2.1148.1"
CDK_ASSETS_VERSION = "4"

# The same checks as `make test` (unit tests, cdk-nag, cfn-lint), then the synth that deploys.
# `make setup` creates .venv (which cdk.json's app command uses) and runs `npm ci`.
DEFAULT_INSTALL_COMMANDS: tuple[str, ...] = ("make setup",)
FAILED_EXECUTION_EVENT = "codepipeline-pipeline-pipeline-execution-failed"
# What a stage's CDK deploy role does with the artifacts CodePipeline hands it: exactly the
# grants CDK Pipelines gives it on an artifact bucket and key in another account.
DEPLOY_ROLE_BUCKET_ACTIONS = ["s3:GetBucket*", "s3:GetObject*", "s3:List*"]
DEPLOY_ROLE_KEY_ACTIONS = ["kms:Decrypt", "kms:DescribeKey"]
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


def synth_commands(config_file: str) -> list[str]:
    """`make test`, then `cdk synth` of the same config file the pipeline deploys.

    ``--no-lookups`` as in `mlops-kit synth`: the kit makes no context lookups (zones come
    from config or the kit's table), and the step has no lookup role, so a lookup added
    later must be cached in the committed cdk.context.json or the synth fails, by name.
    """
    return ["make test", f"npx cdk synth --no-lookups --context config={config_file}"]


def deploy_role_arn(stack: pipelines.StackDeployment) -> str:
    """The role CDK Pipelines assumes to deploy ``stack``, its placeholders filled as CDK Pipelines fills them."""
    assert stack.assume_role_arn is not None
    return (
        stack.assume_role_arn.replace("${AWS::Partition}", Aws.PARTITION)
        .replace("${AWS::AccountId}", stack.account or Aws.ACCOUNT_ID)
        .replace("${AWS::Region}", stack.region or Aws.REGION)
    )


class RegionalArtifactsStack(Stack):
    """The delivery pipeline's artifact store in one more region, in the pipeline's account.

    CodePipeline runs an action in another region from an artifact store in that region.
    Left to itself CDK creates one per region (a bucket without access logs, a key deleted
    with its stack); the kit creates this stack instead: a ``SecureBucket`` (KMS, versioned,
    TLS-only, access-logged, retained) under a rotated, retained kit key, with its own
    access-log bucket, as every kit bucket has.

    The pipeline, in the tooling region, can reference neither by CloudFormation: it names
    the bucket and the key's alias (``artifact_store``), both fixed here. The deploy roles
    of the stages in this region are named in the bucket and key policies by
    ``allow_deploy_role``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline_name: str,
        access_logs_expiration_days: int,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.bucket_name = f"{pipeline_name.lower()}-{self.account}-{self.region}"
        if not BUCKET_NAME.match(self.bucket_name):
            raise ValueError(
                f"the artifact bucket name {self.bucket_name!r} for {self.region} is not a valid S3 bucket name: "
                "use a shorter pipeline name of lowercase letters, digits and hyphens"
            )
        self.alias_name = f"alias/{pipeline_name}-artifacts"
        self.key = platform_key(
            self,
            "ArtifactKey",
            description=f"{pipeline_name}: pipeline artifacts for the stages deployed in {self.region}",
            alias=self.alias_name,
        )
        self.audit = Audit(
            self, "Audit", expiration_days=access_logs_expiration_days, logs_key=self.key,
            data_events=False, data_events_bucket_prefix=f"{pipeline_name.lower()}-",
        )
        self.bucket = SecureBucket(
            self, "ArtifactBucket", encryption_key=self.key, access_logs_bucket=self.audit.access_logs_bucket,
            log_prefix="artifacts", noncurrent_days=30,
        ).bucket
        # SecureBucket takes no name; the pipeline in the tooling region needs a fixed one.
        cfn_bucket = self.bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.bucket_name = self.bucket_name
        # What the pipeline sees: the same bucket and key by name. Its grants to the pipeline
        # role then name this bucket and, for KMS, only keys carrying this alias.
        self.artifact_store = s3.Bucket.from_bucket_attributes(
            self, "ArtifactStore", bucket_name=self.bucket_name,
            encryption_key=kms.Alias.from_alias_name(self, "ArtifactKeyByAlias", self.alias_name),
        )
        self.deploy_roles: list[str] = []

    def allow_deploy_role(self, role_arn: str) -> None:
        """Let one stage's CDK deploy role read the artifacts (CloudFormation templates) kept here."""
        if role_arn in self.deploy_roles:
            return
        self.deploy_roles.append(role_arn)
        principal = iam.ArnPrincipal(role_arn)
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[principal], actions=DEPLOY_ROLE_BUCKET_ACTIONS,
                resources=[self.bucket.bucket_arn, self.bucket.arn_for_objects("*")],
            )
        )
        self.key.add_to_resource_policy(iam.PolicyStatement(principals=[principal], actions=DEPLOY_ROLE_KEY_ACTIONS, resources=["*"]))


class DeliveryPipeline(Construct):
    """A CDK pipeline: source, synth with tests, self-mutation, one stage per environment.

    Artifacts live in ``artifact_bucket`` (encrypted with ``encryption_key``, whose policy
    the pipeline extends with exactly the deploy roles of the environments added). A stage
    in another region gets its artifacts from a ``RegionalArtifactsStack`` there, created
    here as a sibling of the pipeline's stack (``regional_stacks``).
    Every CodeBuild project uses a standard image by name and no Docker. Add environments
    in order with ``add_environment``; call ``notify_failures`` last, which builds the
    pipeline (CodePipeline takes its regional artifact stores when it is created, so the
    pipeline is created there, once every environment's region is known).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        source: pipelines.IFileSetProducer,
        artifact_bucket: s3.IBucket,
        encryption_key: kms.IKey,
        pipeline_name: str,
        config_file: str = "kit.yaml",
        install_commands: Sequence[str] = DEFAULT_INSTALL_COMMANDS,
        commands: Sequence[str] | None = None,
        access_logs_expiration_days: int = 365,
    ) -> None:
        super().__init__(scope, construct_id)
        self.encryption_key = encryption_key
        self.artifact_bucket = artifact_bucket
        self.pipeline_name = pipeline_name
        self.access_logs_expiration_days = access_logs_expiration_days
        # Every build (synth, self-mutation, assets) logs to one log group encrypted with the
        # artifact key and kept a year, instead of the unencrypted, never-expiring group CodeBuild
        # creates per project (Control Tower CT.CODEBUILD.PR.3 wants the logging explicit).
        allow_cloudwatch_logs(encryption_key)
        self.build_logs = logs.LogGroup(self, "BuildLogs", encryption_key=encryption_key, retention=logs.RetentionDays.ONE_YEAR)
        self.build_defaults = pipelines.CodeBuildOptions(
            logging=codebuild.LoggingOptions(cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=self.build_logs)),
            build_environment=codebuild.BuildEnvironment(
                build_image=codebuild.LinuxBuildImage.STANDARD_7_0,
                compute_type=codebuild.ComputeType.SMALL,
                privileged=False,
            ),
            partial_build_spec=codebuild.BuildSpec.from_object(
                {"phases": {"install": {"runtime-versions": {"python": "3.12", "nodejs": "20"}}}}
            ),
            timeout=Duration.minutes(60),
        )
        self.synth_step = pipelines.CodeBuildStep(
            "Synth",
            input=source,
            install_commands=list(install_commands),
            commands=list(commands) if commands is not None else synth_commands(config_file),
            primary_output_directory="cdk.out",
            env={"JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        )
        self.stage_names: list[str] = []
        self.regional_stacks: dict[str, RegionalArtifactsStack] = {}
        self._environments: list[tuple[cdk.Stage, str | None]] = []
        self._pipeline: pipelines.CodePipeline | None = None

    @property
    def pipeline(self) -> pipelines.CodePipeline:
        """The CDK pipeline, once ``notify_failures`` has built it."""
        if self._pipeline is None:
            raise RuntimeError("the delivery pipeline is built by notify_failures, after every add_environment")
        return self._pipeline

    def add_environment(self, stage: cdk.Stage, *, approval: str | None = None) -> None:
        """Deploy ``stage``'s stacks after the previous environment; ``approval`` adds a manual approval first.

        cdk-nag is applied to the stage here, before the pipeline synthesizes it: aspects
        on the App never reach the stacks of a pipeline stage.
        """
        if self._pipeline is not None:
            raise RuntimeError("add every environment before notify_failures builds the pipeline")
        apply_checks(stage)
        home = Stack.of(self)
        # Beside the pipeline's stack, as CDK places its own cross-region support stacks.
        siblings = home.node.scope
        assert isinstance(siblings, Construct)
        for stack in stage.node.find_all():
            if not isinstance(stack, Stack) or stack.region == home.region or stack.region in self.regional_stacks:
                continue
            if cdk.Token.is_unresolved(stack.region) or cdk.Token.is_unresolved(home.region):
                raise ValueError(f"{stack.node.path}: a pipeline stage in another region needs both regions written out")
            self.regional_stacks[stack.region] = RegionalArtifactsStack(
                siblings,
                f"{home.node.id}Artifacts-{stack.region}",
                pipeline_name=self.pipeline_name,
                access_logs_expiration_days=self.access_logs_expiration_days,
                env=cdk.Environment(account=home.account, region=stack.region),
                stack_name=f"{home.stack_name}-artifacts-{stack.region}",
                description=f"{self.pipeline_name}: the delivery pipeline's artifact store in {stack.region}",
                termination_protection=True,
            )
        self._environments.append((stage, approval))
        self.stage_names.append(stage.stage_name)

    def _build(self) -> pipelines.CodePipeline:
        home = Stack.of(self)
        stores: dict[str, s3.IBucket] | None = None
        if self.regional_stacks:
            stores = {home.region: self.artifact_bucket}
            stores.update({region: stack.artifact_store for region, stack in self.regional_stacks.items()})
        pipeline = pipelines.CodePipeline(
            self,
            "Resource",
            pipeline_name=self.pipeline_name,
            synth=self.synth_step,
            # CodePipeline takes either one bucket or one per region, the pipeline's own included.
            artifact_bucket=None if stores else self.artifact_bucket,
            cross_region_replication_buckets=stores,
            # The kit supplies every artifact bucket; should CDK ever create one itself (an action
            # in a region no stage deploys to), it gets a rotated KMS key.
            cross_account_keys=True,
            enable_key_rotation=True,
            pipeline_type=codepipeline.PipelineType.V2,
            self_mutation=True,
            cli_version=CDK_CLI_VERSION,
            cdk_assets_cli_version=CDK_ASSETS_VERSION,
            publish_assets_in_parallel=False,
            docker_enabled_for_synth=False,
            docker_enabled_for_self_mutation=False,
            code_build_defaults=self.build_defaults,
        )
        for stage, approval in self._environments:
            pre: list[pipelines.Step] = [pipelines.ManualApprovalStep(f"Approve{stage.stage_name}", comment=approval)] if approval else []
            deployment = pipeline.add_stage(stage, pre=pre)
            for stack in deployment.stacks:
                regional = self.regional_stacks.get(stack.region or home.region)
                if regional is not None and stack.assume_role_arn:
                    regional.allow_deploy_role(deploy_role_arn(stack))
        pipeline.build_pipeline()
        return pipeline

    def notify_failures(self, *, topic_key: kms.IKey, email: str | None) -> sns.Topic:
        """Build the pipeline; an encrypted SNS topic told about every failed execution; ``email`` subscribed when given."""
        self._pipeline = self._build()
        topic = sns.Topic(self, "FailureTopic", master_key=topic_key, enforce_ssl=True, display_name="Delivery pipeline failures")
        if email:
            topic.add_subscription(subscriptions.EmailSubscription(email))
        # The rule's target binding adds CodeStar Notifications to the topic's and the key's policies.
        notifications.NotificationRule(
            self,
            "FailureNotification",
            source=self.pipeline.pipeline,
            events=[FAILED_EXECUTION_EVENT],
            targets=[topic],
            detail_type=notifications.DetailType.BASIC,
        )
        self._suppress_generated_roles()
        # CDK Pipelines writes each target account's deploy-role ARN as Fn::Join over
        # AWS::Partition; cfn-lint's E3703 only reads literal or Fn::Sub role ARNs there.
        # The ARNs themselves are asserted in tests/stacks/test_delivery.py.
        cfn_pipeline = self.pipeline.pipeline.node.default_child
        assert isinstance(cfn_pipeline, cdk.CfnResource)
        cfn_pipeline.add_metadata("cfn-lint", {"config": {"ignore_checks": ["E3703"]}})
        return topic

    def _suppress_generated_roles(self) -> None:
        """The roles CDK Pipelines writes, each with exactly the wildcard findings it raises."""
        stack = Stack.of(self)
        account, region = stack.account, stack.region
        # Feature flags decide whether the partition is written out or left to CloudFormation.
        partition = "<AWS::Partition>" if cdk.Token.is_unresolved(stack.partition) else stack.partition

        def logical(construct: IConstruct) -> str:
            child = construct.node.default_child
            assert isinstance(child, cdk.CfnElement)
            return stack.get_logical_id(child)

        artifacts = [
            "Action::s3:GetObject*", "Action::s3:GetBucket*", "Action::s3:List*", "Action::s3:DeleteObject*",
            "Action::s3:Abort*", "Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*",
            f"Resource::<{logical(self.artifact_bucket)}.Arn>/*",
        ]
        artifacts_reason = (
            "CDK Pipelines' artifact grants: object-level S3 actions on this pipeline's own artifact bucket and KMS "
            "data-key variants on the kit's delivery key"
        )

        def project_findings(project: codebuild.IProject) -> list[str]:
            name = logical(project)
            return [
                f"Resource::arn:{partition}:codebuild:{region}:{account}:report-group/<{name}>-*",
                f"Resource::arn:{partition}:logs:{region}:{account}:log-group:/aws/codebuild/<{name}>:*",
            ]

        code = self.pipeline.pipeline
        regional_findings: list[str] = []
        for regional in self.regional_stacks.values():
            regional_partition = "<AWS::Partition>" if cdk.Token.is_unresolved(regional.partition) else regional.partition
            regional_findings += [
                f"Resource::arn:{regional_partition}:s3:::{regional.bucket_name}/*",
                f"Resource::arn:{regional_partition}:kms:{regional.region}:{regional.account}:key/*",
            ]
        regional_reason = (
            "; for each other region a stage deploys to, objects in the kit's artifact bucket there (named), and that "
            "region's KMS keys in this account only when they carry the alias of the kit's artifact key there "
            "(kms:ResourceAliases): that key lives in another stack and region, so its ID cannot be named here"
        )
        suppress(
            code.role, "AwsSolutions-IAM5", artifacts_reason + (regional_reason if regional_findings else ""),
            applies_to=[*artifacts, *regional_findings], children=True,
        )
        for construct in code.node.find_all():
            if isinstance(construct, iam.Role) and "/Source/" in construct.node.path:
                suppress(construct, "AwsSolutions-IAM5", artifacts_reason, applies_to=artifacts, children=True)
        synth = self.pipeline.synth_project
        assert synth.role is not None
        suppress(
            synth.role, "AwsSolutions-IAM5",
            artifacts_reason + "; CodeBuild report groups and log streams named after the synth project itself",
            applies_to=[*artifacts, *project_findings(synth)], children=True,
        )
        mutation = self.pipeline.self_mutation_project
        assert mutation.role is not None
        suppress(
            mutation.role, "AwsSolutions-IAM5",
            artifacts_reason + "; its own report groups and log streams; sts:AssumeRole on this account's roles only "
            "when tagged as CDK bootstrap roles (deploy, file- and image-publishing); cloudformation:DescribeStacks "
            "and s3:ListBucket, which CDK's self-update needs across stacks",
            applies_to=[*artifacts, *project_findings(mutation), "Resource::*", f"Resource::arn:*:iam::{account}:role/*"],
            children=True,
        )
        assets = self.pipeline.node.try_find_child("Assets")
        if assets is not None:
            file_role = assets.node.try_find_child("FileRole")
            if file_role is not None:
                suppress(
                    file_role, "AwsSolutions-IAM5",
                    artifacts_reason + "; asset-publishing CodeBuild projects are created per asset, so CDK scopes "
                    "their report groups and logs to /aws/codebuild/* and build actions to '*' in this account; "
                    "sts:AssumeRole names exactly the configured accounts' file-publishing roles",
                    applies_to=[
                        *artifacts, "Resource::*",
                        f"Resource::arn:{partition}:codebuild:{region}:{account}:report-group/*",
                        f"Resource::arn:{partition}:logs:{region}:{account}:log-group:/aws/codebuild/*",
                    ],
                    children=True,
                )
