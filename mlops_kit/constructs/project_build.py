"""Each AI project's build pipeline: test the seed code, update the SageMaker pipeline, run it, promote it.

Two halves, in two accounts:

* ``ProjectBuildPipeline`` lives in the project stack of the training environment (the
  first delivery environment, or the only one when delivery is off). On every push to the
  project's seed code it runs the project's tests, builds the SageMaker pipeline definition,
  updates the pipeline, starts a run, then promotes the definition to each later
  environment in order (with a manual approval before production).
* ``PromotionRole`` lives once per later environment (the Delivery stages add it). It is
  what the build assumes there: it trusts exactly the training account, and only roles in it
  named like a kit build role; it may only update and describe the kit's SageMaker pipelines.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mlops_kit.config.delivery import CONNECTION_ARN, REPOSITORY, DeliveryConfig
from mlops_kit.errors import KitError
from mlops_kit.nag import suppress
from mlops_kit.stages import in_training_environment

DEFINITION_FILE = "pipeline-definition.json"
DEFAULT_TEST_COMMAND = "python -m pytest -q"
DEFAULT_DEFINITION_COMMAND = f"python pipeline.py --output {DEFINITION_FILE}"
ACCOUNT = re.compile(r"^\d{12}$")
MAX_ROLE_NAME = 64


class ProjectBuildError(KitError):
    """A project build pipeline was given props that cannot work."""


def build_role_name(prefix: str, project_name: str) -> str:
    """The build role's fixed name: promotion roles in other accounts trust it by name."""
    name = f"{prefix}-{project_name}-build"
    if len(name) > MAX_ROLE_NAME:
        raise ProjectBuildError(f"build role name {name!r} is longer than {MAX_ROLE_NAME} characters; shorten the prefix or project name")
    return name


def promotion_role_name(prefix: str) -> str:
    return f"{prefix}-pipeline-promotion"


def promotion_role_arn(prefix: str, account: str, partition: str = Aws.PARTITION) -> str:
    return f"arn:{partition}:iam::{account}:role/{promotion_role_name(prefix)}"


def sagemaker_pipeline_arn(region: str, account: str, name: str, partition: str = Aws.PARTITION) -> str:
    return f"arn:{partition}:sagemaker:{region}:{account}:pipeline/{name}"


@dataclass(frozen=True)
class ProjectSource:
    """Where a project's seed code lives. Build one with ``connection`` or ``s3``.

    ``folder`` is the seed code's folder inside the source ('' for a repository of its
    own; ``projects/<name>`` for a folder of the kit's repository, where only pushes
    touching that folder start the pipeline).
    """

    kind: str
    folder: str = ""
    connection_arn: str = ""
    repository: str = ""
    branch: str = "main"
    bucket: s3.IBucket | None = None
    key: str = ""
    poll: bool = False
    kit_in_source: bool = False

    @staticmethod
    def connection(
        *, connection_arn: str, repository: str, branch: str = "main", folder: str = "", kit_in_source: bool = False
    ) -> ProjectSource:
        """GitHub, GitLab or Bitbucket through a CodeConnections connection.

        ``kit_in_source``: the source is the kit's own repository, so the builds import
        ``mlops_kit`` from it (the seed's ``pipeline.py`` needs ``mlops_kit.pipelines``).
        """
        if not CONNECTION_ARN.match(connection_arn):
            raise ProjectBuildError(f"connection_arn {connection_arn!r} is not a CodeConnections connection ARN")
        if not REPOSITORY.match(repository):
            raise ProjectBuildError(f"repository {repository!r}: allowed <owner>/<repository>")
        return ProjectSource(
            "codeconnections", _folder(folder), connection_arn=connection_arn, repository=repository, branch=branch,
            kit_in_source=kit_in_source,
        )

    @staticmethod
    def s3(
        *, bucket: s3.IBucket, key: str, folder: str = "", poll: bool = False, kit_in_source: bool = False
    ) -> ProjectSource:
        """A zip in a versioned S3 bucket (closed networks); a new object version starts the pipeline.

        The upload is noticed through an EventBridge rule on CloudTrail's record of it, which
        needs a trail logging data events for the bucket; ``poll`` makes CodePipeline poll instead.
        """
        if not key:
            raise ProjectBuildError("an S3 project source needs the object key of the seed code zip")
        return ProjectSource("s3", _folder(folder), bucket=bucket, key=key, poll=poll, kit_in_source=kit_in_source)


def _folder(folder: str) -> str:
    folder = folder.strip("/")
    if folder and (not re.fullmatch(r"[\w.-]+(/[\w.-]+)*", folder) or ".." in folder.split("/")):
        raise ProjectBuildError(f"folder {folder!r}: allowed a relative path such as projects/churn")
    return folder


@dataclass(frozen=True)
class PromotionTarget:
    """An environment the pipeline definition is promoted to, after the training one."""

    name: str
    account: str
    region: str
    approval: bool = False

    def __post_init__(self) -> None:
        if not ACCOUNT.match(self.account):
            raise ProjectBuildError(f"promotion target {self.name!r}: account {self.account!r} is not 12 digits")


@dataclass(frozen=True)
class BuildPlacement:
    """Where a project's build pipeline runs and what it promotes to."""

    environment_name: str
    promotion_targets: tuple[PromotionTarget, ...]


def build_placement(scope: Construct, delivery: DeliveryConfig) -> BuildPlacement | None:
    """Whether ``scope`` (a project stack) should hold the project's build pipeline.

    Delivery off: yes, in the single environment, with no promotion. Delivery on: only in
    the stage of the first (training) environment, promoting to every later environment in
    order (production ones behind a manual approval); ``None`` in the other stages.
    (``mlops_kit.stages`` reads the stage's environment.)
    """
    if not delivery.enabled:
        return BuildPlacement("default", ())
    training = delivery.training_environment
    if training is None or not in_training_environment(scope, delivery):
        return None
    targets = tuple(
        PromotionTarget(env.name, env.account, env.region, approval=env.is_production) for env in delivery.environments[1:]
    )
    return BuildPlacement(training.name, targets)


class ProjectBuildPipeline(Construct):
    """CodePipeline (V2) for one project's seed code: Source, Test, Update (and run), Promote<Env>...

    Test runs ``test_command`` (default ``python -m pytest -q``) in the seed folder after
    installing ``requirements.txt`` when present. Update runs ``definition_command``
    (default ``python pipeline.py --output pipeline-definition.json``) with
    ``TARGET_ENVIRONMENT``, ``TARGET_ACCOUNT``, ``TARGET_REGION`` and
    ``PIPELINE_CONTEXT_PARAMETER`` (``context_parameter_name``: the SSM parameter the
    project stack publishes in every environment, see ``mlops_kit.pipelines.context``) set,
    calls ``aws sagemaker update-pipeline`` on ``sagemaker_pipeline_name`` (the pipeline the
    project stack created; its role is kept) and starts a run. Each promotion target gets
    the same definition step for its own environment, run with the target's
    ``PromotionRole`` (or this build role when the target is in this account);
    ``approval`` targets wait for a manual approval first. What the definition step reads
    and writes there (the context parameter, the code upload) is granted by the target's
    project stack (``grant_rebuild`` in ``mlops_kit.stacks.project``).
    CodeBuild uses a standard image and no Docker; logs and artifacts use ``encryption_key``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        project_name: str,
        source: ProjectSource,
        sagemaker_pipeline_name: str,
        artifact_bucket: s3.IBucket,
        encryption_key: kms.IKey,
        environment_name: str = "dev",
        promotion_targets: Sequence[PromotionTarget] = (),
        test_command: str = DEFAULT_TEST_COMMAND,
        definition_command: str = DEFAULT_DEFINITION_COMMAND,
        start_run: bool = True,
        context_parameter_name: str = "",
        permissions_boundary: iam.IManagedPolicy | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
    ) -> None:
        super().__init__(scope, construct_id)
        if not re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}", sagemaker_pipeline_name):
            raise ProjectBuildError(f"sagemaker_pipeline_name {sagemaker_pipeline_name!r} is not a SageMaker pipeline name")
        names = [t.name for t in promotion_targets]
        if len(set(names)) != len(names):
            raise ProjectBuildError(f"promotion targets must have distinct names, got {names}")
        self.project_name = project_name
        self.sagemaker_pipeline_name = sagemaker_pipeline_name
        self.context_parameter_name = context_parameter_name

        self.log_group = logs.LogGroup(self, "Logs", encryption_key=encryption_key, retention=log_retention)
        self.role = iam.Role(
            self,
            "BuildRole",
            role_name=build_role_name(prefix, project_name),
            assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"),
            description=f"{prefix}: build, update and promote the SageMaker pipeline of project {project_name}",
            permissions_boundary=permissions_boundary,
        )
        stack = Stack.of(self)
        partition = stack.partition
        own_pipeline = sagemaker_pipeline_arn(stack.region, stack.account, sagemaker_pipeline_name, partition)
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="UpdateAndRunTheProjectPipeline",
                actions=["sagemaker:DescribePipeline", "sagemaker:UpdatePipeline", "sagemaker:StartPipelineExecution"],
                resources=[own_pipeline],
            )
        )
        # A later environment in this same account (another region) is promoted with this
        # role itself; one in another account through that account's promotion role.
        local = [t for t in promotion_targets if t.account == stack.account]
        remote = [t for t in promotion_targets if t.account != stack.account]
        if local:
            self.role.add_to_principal_policy(
                iam.PolicyStatement(
                    sid="PromoteTheProjectPipelineInThisAccount",
                    actions=["sagemaker:DescribePipeline", "sagemaker:UpdatePipeline"],
                    resources=[sagemaker_pipeline_arn(t.region, t.account, sagemaker_pipeline_name, partition) for t in local],
                )
            )
        if remote:
            self.role.add_to_principal_policy(
                iam.PolicyStatement(
                    sid="AssumePromotionRoles",
                    actions=["sts:AssumeRole"],
                    resources=sorted({promotion_role_arn(prefix, t.account, partition) for t in remote}),
                )
            )

        source_output = codepipeline.Artifact("SeedCode")
        source_action, trigger = self._source_action(source, source_output)
        folder = source.folder or "."
        # The kit's own repository holds mlops_kit: the seed's pipeline.py imports it from there.
        setup = ['export PYTHONPATH="$CODEBUILD_SRC_DIR${PYTHONPATH:+:$PYTHONPATH}"'] if source.kit_in_source else []
        test = self._project(
            "Test",
            encryption_key,
            [
                *setup,
                f"cd {folder}",
                "if [ -f requirements.txt ]; then python -m pip install --quiet -r requirements.txt; fi",
                test_command,
            ],
        )
        update_commands = [
            *setup,
            f"cd {folder}",
            "if [ -f requirements.txt ]; then python -m pip install --quiet -r requirements.txt; fi",
            'if [ -n "$ASSUME_ROLE_ARN" ]; then '
            'CREDS=$(aws sts assume-role --role-arn "$ASSUME_ROLE_ARN" --role-session-name "$PROJECT_NAME-promotion" '
            "--query Credentials --output text) && "
            'export AWS_ACCESS_KEY_ID=$(echo "$CREDS" | cut -f1) AWS_SECRET_ACCESS_KEY=$(echo "$CREDS" | cut -f3) '
            'AWS_SESSION_TOKEN=$(echo "$CREDS" | cut -f4); fi',
            definition_command,
            f'aws sagemaker update-pipeline --region "$TARGET_REGION" --pipeline-name "$PIPELINE_NAME" '
            f"--pipeline-definition file://{DEFINITION_FILE}",
            'if [ "$START_RUN" = "true" ]; then aws sagemaker start-pipeline-execution --region "$TARGET_REGION" '
            '--pipeline-name "$PIPELINE_NAME" --pipeline-execution-description "seed code $CODEBUILD_RESOLVED_SOURCE_VERSION"; fi',
        ]
        update = self._project("Update", encryption_key, update_commands)
        self.projects = [test, update]

        stages = [
            codepipeline.StageProps(stage_name="Source", actions=[source_action]),
            codepipeline.StageProps(
                stage_name="Test",
                actions=[actions.CodeBuildAction(action_name="Test", project=test, input=source_output)],
            ),
            codepipeline.StageProps(
                stage_name="Update",
                actions=[
                    actions.CodeBuildAction(
                        action_name="UpdateAndRun",
                        project=update,
                        input=source_output,
                        environment_variables=self._variables(environment_name, stack.account, stack.region, "", start_run),
                    )
                ],
            ),
        ]
        for target in promotion_targets:
            stage_actions: list[codepipeline.IAction] = []
            if target.approval:
                stage_actions.append(
                    actions.ManualApprovalAction(
                        action_name=f"Approve{pascal_case(target.name)}",
                        additional_information=f"Promote the {project_name} pipeline definition to {target.name}",
                        run_order=1,
                    )
                )
            stage_actions.append(
                actions.CodeBuildAction(
                    action_name=f"Promote{pascal_case(target.name)}",
                    project=update,
                    input=source_output,
                    run_order=2,
                    environment_variables=self._variables(
                        target.name,
                        target.account,
                        target.region,
                        "" if target in local else promotion_role_arn(prefix, target.account, partition),
                        False,
                    ),
                )
            )
            stages.append(codepipeline.StageProps(stage_name=f"Promote{pascal_case(target.name)}", actions=stage_actions))

        self.pipeline = codepipeline.Pipeline(
            self,
            "Resource",
            pipeline_name=f"{prefix}-{project_name}-build",
            artifact_bucket=artifact_bucket,
            pipeline_type=codepipeline.PipelineType.V2,
            execution_mode=codepipeline.ExecutionMode.QUEUED,
            restart_execution_on_update=False,
            stages=stages,
            triggers=[trigger] if trigger is not None else None,
        )
        self.pipeline.node.add_dependency(self.role)
        self._suppress(artifact_bucket)

    def _source_action(
        self, source: ProjectSource, output: codepipeline.Artifact
    ) -> tuple[codepipeline.IAction, codepipeline.TriggerProps | None]:
        if source.kind == "s3":
            assert source.bucket is not None
            return actions.S3SourceAction(
                action_name="SeedCode", bucket=source.bucket, bucket_key=source.key, output=output,
                trigger=actions.S3Trigger.POLL if source.poll else actions.S3Trigger.EVENTS,
            ), None
        action = actions.CodeStarConnectionsSourceAction(
            action_name="SeedCode",
            connection_arn=source.connection_arn,
            owner=source.repository.split("/")[0],
            repo=source.repository.split("/", 1)[1],
            branch=source.branch,
            output=output,
            trigger_on_push=True,
        )
        trigger = codepipeline.TriggerProps(
            provider_type=codepipeline.ProviderType.CODE_STAR_SOURCE_CONNECTION,
            git_configuration=codepipeline.GitConfiguration(
                source_action=action,
                push_filter=[
                    codepipeline.GitPushFilter(
                        branches_includes=[source.branch],
                        file_paths_includes=[f"{source.folder}/**"] if source.folder else None,
                    )
                ],
            ),
        )
        return action, trigger

    def _project(self, name: str, key: kms.IKey, commands: list[str]) -> codebuild.PipelineProject:
        return codebuild.PipelineProject(
            self,
            name,
            role=self.role,
            encryption_key=key,
            environment=codebuild.BuildEnvironment(
                build_image=codebuild.LinuxBuildImage.STANDARD_7_0,
                compute_type=codebuild.ComputeType.SMALL,
                privileged=False,
            ),
            timeout=Duration.minutes(60),
            logging=codebuild.LoggingOptions(cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=self.log_group)),
            build_spec=codebuild.BuildSpec.from_object(
                {
                    "version": "0.2",
                    "phases": {
                        "install": {"runtime-versions": {"python": "3.12"}},
                        "build": {"commands": commands},
                    },
                }
            ),
        )

    def _variables(
        self, environment: str, account: str, region: str, role_arn: str, start_run: bool
    ) -> dict[str, codebuild.BuildEnvironmentVariable]:
        values = {
            "PROJECT_NAME": self.project_name,
            "PIPELINE_NAME": self.sagemaker_pipeline_name,
            "TARGET_ENVIRONMENT": environment,
            "TARGET_ACCOUNT": account,
            "TARGET_REGION": region,
            "ASSUME_ROLE_ARN": role_arn,
            "START_RUN": "true" if start_run else "false",
            "PIPELINE_CONTEXT_PARAMETER": self.context_parameter_name,
        }
        return {key: codebuild.BuildEnvironmentVariable(value=value) for key, value in values.items()}

    def _suppress(self, artifact_bucket: s3.IBucket) -> None:
        """Each generated role gets exactly the wildcard findings of CDK's artifact and report grants."""
        stack = Stack.of(self)
        resolved = stack.resolve(artifact_bucket.bucket_arn)
        if isinstance(resolved, dict) and "Fn::GetAtt" in resolved:
            objects = f"Resource::<{resolved['Fn::GetAtt'][0]}.Arn>/*"
        else:
            objects = f"Resource::{resolved}/*"
        artifacts = [
            "Action::s3:GetObject*", "Action::s3:GetBucket*", "Action::s3:List*", "Action::s3:DeleteObject*",
            "Action::s3:Abort*", "Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*", objects,
        ]
        reason = (
            "CDK's pipeline artifact grants: object-level S3 actions on this pipeline's own artifact bucket and KMS "
            "data-key variants on the project's key"
        )
        suppress(self.pipeline.role, "AwsSolutions-IAM5", reason, applies_to=artifacts, children=True)
        for construct in self.pipeline.node.find_all():
            if isinstance(construct, iam.Role) and "/Source/" in construct.node.path:
                suppress(construct, "AwsSolutions-IAM5", reason, applies_to=artifacts, children=True)
        partition = "<AWS::Partition>" if cdk.Token.is_unresolved(stack.partition) else stack.partition
        region = "<AWS::Region>" if cdk.Token.is_unresolved(stack.region) else stack.region
        account = "<AWS::AccountId>" if cdk.Token.is_unresolved(stack.account) else stack.account
        reports: list[str] = []
        for project in self.projects:
            name = stack.get_logical_id(project.node.default_child)  # type: ignore[arg-type]
            reports.append(f"Resource::arn:{partition}:codebuild:{region}:{account}:report-group/<{name}>-*")
            reports.append(f"Resource::arn:{partition}:logs:{region}:{account}:log-group:/aws/codebuild/<{name}>:*")
        suppress(
            self.role, "AwsSolutions-IAM5",
            reason + "; CodeBuild test reports and default log streams named after this pipeline's own two projects",
            applies_to=[*artifacts, *reports], children=True,
        )


class PromotionRole(Construct):
    """The role a training-account project build assumes to promote a pipeline definition here.

    Trust: exactly ``training_account``, and inside it only roles named like a kit build
    role (``<prefix>-<project>-build``). Permissions: describe and update the kit's
    SageMaker pipelines in this account and region (names starting with ``<prefix>-``),
    and optionally start them. UpdatePipeline without a new role ARN needs no PassRole.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        training_account: str,
        allow_start: bool = False,
        permissions_boundary: iam.IManagedPolicy | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if not ACCOUNT.match(training_account):
            raise ProjectBuildError(f"training_account {training_account!r} is not 12 digits")
        stack = Stack.of(self)
        self.role = iam.Role(
            self,
            "Resource",
            role_name=promotion_role_name(prefix),
            description=f"{prefix}: project build pipelines in {training_account} promote SageMaker pipeline definitions here",
            assumed_by=iam.AccountPrincipal(training_account).with_conditions(
                {"ArnLike": {"aws:PrincipalArn": f"arn:{stack.partition}:iam::{training_account}:role/{prefix}-*-build"}}
            ),
            max_session_duration=Duration.hours(1),
            permissions_boundary=permissions_boundary,
        )
        pipelines_arn = sagemaker_pipeline_arn(stack.region, stack.account, f"{prefix}-*", stack.partition)
        run_actions = ["sagemaker:StartPipelineExecution"] if allow_start else []
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PromoteKitPipelines",
                actions=["sagemaker:DescribePipeline", "sagemaker:UpdatePipeline", *run_actions],
                resources=[pipelines_arn],
            )
        )
        suppress(
            self.role,
            "AwsSolutions-IAM5",
            f"Only SageMaker pipelines whose names start with the kit prefix '{prefix}-' in this account and region; "
            "project pipelines are added after this role exists",
            applies_to=[f"Resource::{_nag_text(stack, pipelines_arn)}"],
            children=True,
        )


def pascal_case(name: str) -> str:
    """``prod-eu`` -> ``ProdEu``: environment names as construct IDs and stage names."""
    return "".join(part.capitalize() for part in re.split(r"[-_]", name))


def _nag_text(stack: Stack, value: str) -> str:
    """How cdk-nag writes a (possibly tokenized) ARN in its findings: pseudo parameters as <AWS::...>."""
    resolved = stack.resolve(value)
    if isinstance(resolved, str):
        return resolved
    parts = resolved["Fn::Join"][1]
    return "".join(p if isinstance(p, str) else f"<{p['Ref']}>" for p in parts)
