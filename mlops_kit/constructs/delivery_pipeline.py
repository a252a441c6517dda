"""The kit's own CI/CD: a self-mutating CDK pipeline that deploys the platform stage by stage."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import Duration, Stack, pipelines
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codestarnotifications as notifications
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct, IConstruct

from mlops_kit.nag import apply_checks, suppress

# The CDK CLI the pipeline installs for synth and self-mutation. CDK Pipelines defaults to
# `latest`, which is 3.x and cannot read what aws-cdk-lib 2.x writes (see DESIGN.md).
CDK_CLI_VERSION = "2.1148.1"
CDK_ASSETS_VERSION = "4"

# The same checks as `make test` (unit tests, cdk-nag, cfn-lint), then the synth that deploys.
# `make setup` creates .venv (which cdk.json's app command uses) and runs `npm ci`.
DEFAULT_INSTALL_COMMANDS: tuple[str, ...] = ("make setup",)
FAILED_EXECUTION_EVENT = "codepipeline-pipeline-pipeline-execution-failed"


def synth_commands(config_file: str) -> list[str]:
    """`make test`, then `cdk synth` of the same config file the pipeline deploys."""
    return ["make test", f"npx cdk synth --context config={config_file}"]


class DeliveryPipeline(Construct):
    """A CDK pipeline: source, synth with tests, self-mutation, one stage per environment.

    Artifacts live in ``artifact_bucket`` (encrypted with ``encryption_key``, whose policy
    the pipeline extends with exactly the deploy roles of the environments added).
    Every CodeBuild project uses a standard image by name and no Docker. Add environments
    in order with ``add_environment``; call ``notify_failures`` last, which builds the
    pipeline.
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
    ) -> None:
        super().__init__(scope, construct_id)
        self.encryption_key = encryption_key
        self.artifact_bucket = artifact_bucket
        build_defaults = pipelines.CodeBuildOptions(
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
        self.pipeline = pipelines.CodePipeline(
            self,
            "Resource",
            pipeline_name=pipeline_name,
            synth=self.synth_step,
            artifact_bucket=artifact_bucket,
            # Replication buckets in other regions (cross-region support stacks) get KMS keys too.
            cross_account_keys=True,
            enable_key_rotation=True,
            pipeline_type=codepipeline.PipelineType.V2,
            self_mutation=True,
            cli_version=CDK_CLI_VERSION,
            cdk_assets_cli_version=CDK_ASSETS_VERSION,
            publish_assets_in_parallel=False,
            docker_enabled_for_synth=False,
            docker_enabled_for_self_mutation=False,
            code_build_defaults=build_defaults,
        )
        self.stage_names: list[str] = []

    def add_environment(self, stage: cdk.Stage, *, approval: str | None = None) -> pipelines.StageDeployment:
        """Deploy ``stage``'s stacks after the previous environment; ``approval`` adds a manual approval first.

        cdk-nag is applied to the stage here, before ``add_stage`` synthesizes it: aspects
        on the App never reach the stacks of a pipeline stage.
        """
        apply_checks(stage)
        pre: list[pipelines.Step] = [pipelines.ManualApprovalStep(f"Approve{stage.stage_name}", comment=approval)] if approval else []
        deployment = self.pipeline.add_stage(stage, pre=pre)
        self.stage_names.append(stage.stage_name)
        return deployment

    def notify_failures(self, *, topic_key: kms.IKey, email: str | None) -> sns.Topic:
        """An encrypted SNS topic told about every failed execution; ``email`` subscribed when given."""
        self.pipeline.build_pipeline()
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
        suppress(code.role, "AwsSolutions-IAM5", artifacts_reason, applies_to=artifacts, children=True)
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
