"""Who may do what: the permission boundary, one role per persona, the SageMaker execution role.

Each persona's permissions are written out per tier in ``persona_grants`` (the README
renders the same table). Resource ARNs are scoped to names that start with the kit's
prefix wherever AWS supports it; List/Describe calls that AWS only allows on ``*`` are
read-only and stay on ``*``.

Separation of duties (issue 16): whoever may register a model package (ML engineers, the
project execution roles) may not approve one; packages are created only as
``PendingManualApproval`` (condition key ``sagemaker:ModelApprovalStatus`` on
``CreateModelPackage``). Studio profiles are opened per person, not per persona
(``mlops_kit.constructs.studio``). The boundary's VPC deny uses ``sagemaker:VpcSubnets``,
which CreateTrainingJob, CreateProcessingJob, CreateHyperParameterTuningJob, CreateModel,
CreateAutoMLJob(V2) and CreateNotebookInstance support; CreateTransformJob and
CreateLabelingJob have no VPC condition key: a transform job runs in its model's VPC (the
model cannot be created without one), and labeling jobs, which the platform does not use,
are denied outright. Source: the Service Authorization Reference,
https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemaker.html
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import Aws, Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from mlops_kit.errors import PropsError
from mlops_kit.nag import suppress


def sagemaker_arn(resource: str) -> str:
    """An ARN template; ``Grant.render`` fills in partition, region and account."""
    return "arn:{partition}:sagemaker:{region}:{account}:" + resource


def boundary_name(prefix: str) -> str:
    """The boundary has a fixed name so that every stack can attach it without an import."""
    return f"{prefix}-permission-boundary"


def persona_role_name(prefix: str, persona: str) -> str:
    """A persona role's fixed name, so that project stacks can grant it without an import."""
    return f"{prefix}-{persona.replace('_', '-')}"


@dataclass(frozen=True)
class Grant:
    """One statement of a persona's policy: tier, purpose, actions, resource patterns, conditions."""

    tier: int
    purpose: str
    actions: tuple[str, ...]
    resources: tuple[str, ...] = ("*",)
    conditions: Mapping[str, Mapping[str, str | Sequence[str]]] | None = None

    def render(self) -> list[str]:
        """Resource ARNs with CloudFormation pseudo parameters."""
        return [r.format(partition=Aws.PARTITION, region=Aws.REGION, account=Aws.ACCOUNT_ID) for r in self.resources]

    def wildcard_findings(self) -> list[str]:
        """The exact AwsSolutions-IAM5 findings this statement raises, for a narrow suppression."""
        names = {"partition": "<AWS::Partition>", "region": "<AWS::Region>", "account": "<AWS::AccountId>"}
        found = [f"Action::{action}" for action in self.actions if "*" in action]
        found += [f"Resource::{r.format(**names)}" for r in self.resources if "*" in r]
        return found


# CreateModelPackage must name the status, and only PendingManualApproval: StringEquals
# (not ...IfExists) so that a request without the key is refused too.
PENDING_ONLY: Mapping[str, Mapping[str, str]] = {"StringEquals": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}}


def persona_grants(prefix: str) -> dict[str, tuple[Grant, ...]]:
    """Each persona's permissions, per tier. ``{p}`` names start with the kit prefix."""
    p = prefix
    read_sagemaker = Grant(
        2, "See the platform's SageMaker resources", ("sagemaker:List*", "sagemaker:Describe*", "sagemaker:Search", "sagemaker:GetSearchSuggestions")
    )
    mlflow = Grant(
        2, "Track experiments on the kit's MLflow server",
        ("sagemaker:CreatePresignedMlflowTrackingServerUrl", "sagemaker-mlflow:*"), (sagemaker_arn(f"mlflow-tracking-server/{p}-*"),),
    )
    run_pipelines = Grant(
        3, "Run and watch project pipelines",
        ("sagemaker:StartPipelineExecution", "sagemaker:StopPipelineExecution", "sagemaker:RetryPipelineExecution"),
        (sagemaker_arn(f"pipeline/{p}-*"),),
    )
    approve = Grant(
        3, "Approve or reject model packages",
        ("sagemaker:UpdateModelPackage",), (sagemaker_arn(f"model-package/{p}-*/*"),),
    )
    read_features = Grant(
        2, "Read features", ("sagemaker:GetRecord", "sagemaker:BatchGetRecord"), (sagemaker_arn(f"feature-group/{p}-*"),),
    )
    dashboards = Grant(
        3, "Read dashboards, alarms and metrics",
        ("cloudwatch:GetDashboard", "cloudwatch:ListDashboards", "cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics", "cloudwatch:DescribeAlarms"),
    )
    return {
        "data_scientist": (read_sagemaker, mlflow, read_features, run_pipelines),
        # Registers models, so it may not approve them (separation of duties).
        "ml_engineer": (
            read_sagemaker, mlflow, read_features, run_pipelines,
            Grant(2, "Maintain feature groups", ("sagemaker:CreateFeatureGroup", "sagemaker:UpdateFeatureGroup", "sagemaker:PutRecord", "sagemaker:DeleteRecord"), (sagemaker_arn(f"feature-group/{p}-*"),)),
            Grant(
                3, "Register models, only as PendingManualApproval",
                ("sagemaker:CreateModelPackage",), (sagemaker_arn(f"model-package/{p}-*/*"), sagemaker_arn(f"model-package-group/{p}-*")),
                PENDING_ONLY,
            ),
        ),
        "mlops_engineer": (
            read_sagemaker, mlflow, run_pipelines, approve, dashboards,
            Grant(3, "Operate endpoints and monitoring", ("sagemaker:UpdateEndpointWeightsAndCapacities", "sagemaker:StartMonitoringSchedule", "sagemaker:StopMonitoringSchedule"), (sagemaker_arn(f"endpoint/{p}-*"), sagemaker_arn(f"monitoring-schedule/{p}-*"))),
            Grant(3, "Inspect approval events", ("events:DescribeRule", "events:ListRules", "events:ListTargetsByRule")),
        ),
        "devops_engineer": (
            Grant(1, "Deploy with the CDK bootstrap roles (cdk deploy)", ("sts:AssumeRole",), ("arn:{partition}:iam::{account}:role/cdk-hnb659fds-*",)),
            Grant(1, "Inspect stacks", ("cloudformation:DescribeStacks", "cloudformation:DescribeStackEvents", "cloudformation:DescribeStackResources", "cloudformation:GetTemplate", "cloudformation:ListStacks", "cloudformation:ListStackResources")),
            Grant(1, "Follow the delivery pipelines", ("codepipeline:ListPipelines", "codebuild:BatchGetBuilds", "codebuild:ListBuildsForProject")),
            Grant(
                1, "Operate the kit's own delivery pipelines",
                ("codepipeline:GetPipeline", "codepipeline:GetPipelineState", "codepipeline:StartPipelineExecution", "codepipeline:PutApprovalResult"),
                ("arn:{partition}:codepipeline:{region}:{account}:" + f"{p}-*",),
            ),
            dashboards,
        ),
        "cloud_security": (
            Grant(1, "Audit identity and keys", ("iam:Get*", "iam:List*", "iam:GenerateCredentialReport", "iam:GenerateServiceLastAccessedDetails", "kms:Describe*", "kms:Get*", "kms:List*", "access-analyzer:List*", "access-analyzer:Get*")),
            Grant(1, "Audit network, trails and logs", ("ec2:Describe*", "cloudtrail:Describe*", "cloudtrail:Get*", "cloudtrail:LookupEvents", "cloudtrail:ListTrails", "logs:Describe*", "logs:FilterLogEvents", "logs:GetLogEvents", "logs:StartQuery", "logs:GetQueryResults", "s3:GetBucket*", "s3:GetEncryptionConfiguration", "s3:ListAllMyBuckets", "s3:GetAccountPublicAccessBlock")),
            read_sagemaker,
        ),
        "project_manager": (
            dashboards,
            Grant(3, "Follow budgets and cost", ("budgets:ViewBudget", "ce:GetCostAndUsage", "ce:GetCostForecast")),
            Grant(3, "Follow pipelines and models", ("sagemaker:ListPipelines", "sagemaker:ListPipelineExecutions", "sagemaker:DescribePipeline", "sagemaker:ListModelPackages", "sagemaker:ListModelPackageGroups", "sagemaker:ListEndpoints")),
        ),
        "fullstack_developer": (
            Grant(3, "Call the platform's endpoints", ("sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointAsync", "sagemaker:InvokeEndpointWithResponseStream"), (sagemaker_arn(f"endpoint/{p}-*"),)),
            Grant(3, "Find endpoints", ("sagemaker:ListEndpoints", "sagemaker:DescribeEndpoint")),
        ),
    }


# Everything that starts SageMaker compute and supports the sagemaker:VpcSubnets key.
VPC_ONLY_ACTIONS = (
    "sagemaker:CreateTrainingJob", "sagemaker:CreateProcessingJob", "sagemaker:CreateHyperParameterTuningJob",
    "sagemaker:CreateNotebookInstance", "sagemaker:CreateModel", "sagemaker:CreateAutoMLJob", "sagemaker:CreateAutoMLJobV2",
)


class PermissionBoundary(Construct):
    """The ceiling for every role the kit creates.

    It allows the services the platform uses and denies what would let a role escape:
    creating users or keys, removing or changing the boundary, and starting SageMaker
    jobs or notebooks outside the VPC.
    """

    def __init__(self, scope: Construct, construct_id: str, *, prefix: str) -> None:
        super().__init__(scope, construct_id)
        name = boundary_name(prefix)
        boundary_arn = f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:policy/{name}"
        self.policy = iam.ManagedPolicy(
            self,
            "Resource",
            managed_policy_name=name,
            description=f"{prefix}: permission boundary of every role the kit creates",
            statements=[
                iam.PolicyStatement(
                    sid="PlatformServices",
                    actions=[
                        "sagemaker:*", "sagemaker-mlflow:*", "s3:*", "kms:*", "logs:*", "cloudwatch:*", "ecr:*",
                        "glue:*", "athena:*", "events:*", "ssm:GetParameter*", "sts:AssumeRole", "sts:GetCallerIdentity",
                        "cloudformation:*", "codepipeline:*", "codebuild:*", "codeconnections:UseConnection",
                        "codestar-connections:UseConnection", "states:*", "lambda:InvokeFunction", "sns:Publish",
                        "application-autoscaling:*", "budgets:View*", "budgets:Describe*", "ce:Get*", "iam:Get*",
                        "iam:List*", "iam:GenerateCredentialReport", "iam:GenerateServiceLastAccessedDetails",
                        "access-analyzer:List*", "access-analyzer:Get*", "cloudtrail:Describe*", "cloudtrail:Get*",
                        "cloudtrail:LookupEvents", "cloudtrail:ListTrails", "xray:PutTraceSegments",
                        "ec2:Describe*", "ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission",
                        "ec2:DeleteNetworkInterface", "ec2:DeleteNetworkInterfacePermission",
                        "ec2:CreateVpcEndpoint", "ec2:DeleteVpcEndpoints",
                        "elasticfilesystem:*",
                    ],
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    sid="PassRolesOnlyToPlatformServices",
                    actions=["iam:PassRole"],
                    resources=["*"],
                    conditions={"StringEquals": {"iam:PassedToService": ["sagemaker.amazonaws.com", "events.amazonaws.com", "states.amazonaws.com", "codepipeline.amazonaws.com", "codebuild.amazonaws.com"]}},
                ),
                iam.PolicyStatement(
                    sid="NoNewUsersOrKeys",
                    effect=iam.Effect.DENY,
                    actions=["iam:CreateUser", "iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile"],
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    sid="BoundaryCannotBeChangedOrRemoved",
                    effect=iam.Effect.DENY,
                    actions=["iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeleteRolePermissionsBoundary", "iam:DeleteUserPermissionsBoundary"],
                    resources=[boundary_arn, f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/*", f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:user/*"],
                ),
                iam.PolicyStatement(
                    # Application Auto Scaling makes its service-linked role on an account's
                    # first RegisterScalableTarget; only that one service name may be used.
                    sid="AutoScalingServiceLinkedRoleOnly",
                    actions=["iam:CreateServiceLinkedRole"],
                    resources=[f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/*"],
                    conditions={"StringEquals": {"iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com"}},
                ),
                iam.PolicyStatement(
                    sid="SageMakerComputeOnlyInsideTheVpc",
                    effect=iam.Effect.DENY,
                    actions=list(VPC_ONLY_ACTIONS),
                    resources=["*"],
                    conditions={"Null": {"sagemaker:VpcSubnets": "true"}},
                ),
                iam.PolicyStatement(
                    sid="NoLabelingJobs",
                    effect=iam.Effect.DENY,
                    actions=["sagemaker:CreateLabelingJob"],
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    sid="ModelPackagesStartPending",
                    effect=iam.Effect.DENY,
                    actions=["sagemaker:CreateModelPackage"],
                    resources=["*"],
                    conditions={"StringNotEqualsIfExists": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}},
                ),
            ],
        )
        suppress(
            self.policy,
            "AwsSolutions-IAM5",
            "A permission boundary is a ceiling, not a grant: it lists whole services so that each role's own "
            "least-privilege policy decides; its explicit denies are what it enforces",
        )
        suppress(
            self.policy,
            "NIST.800.53.R5-IAMPolicyNoStatementsWithFullAccess",
            "A permission boundary is a ceiling, not a grant: service-wide actions (sagemaker:*, s3:*, ...) bound what "
            "each role's own least-privilege policy may grant; no principal receives them from this policy",
        )


class PersonaRoles(Construct):
    """One IAM role per person-role of a balanced AI team, each with its own policy."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        principals: Mapping[str, Sequence[str]],
        boundary: iam.IManagedPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        grants_by_persona = persona_grants(prefix)
        unknown = sorted(set(principals) - set(grants_by_persona))
        if unknown:
            raise PropsError("PersonaRoles", "principals", f"unknown persona(s) {unknown}; allowed: {', '.join(grants_by_persona)}")
        self.roles: dict[str, iam.Role] = {}
        for persona, grants in grants_by_persona.items():
            arns = principals.get(persona, ())
            trusted: iam.IPrincipal = (
                iam.CompositePrincipal(*(iam.ArnPrincipal(arn) for arn in arns)) if arns else iam.AccountRootPrincipal()
            )
            construct_name = "".join(part.capitalize() for part in persona.split("_"))
            role = iam.Role(
                self,
                construct_name,
                role_name=persona_role_name(prefix, persona),
                description=f"{prefix}: {persona.replace('_', ' ')} persona",
                assumed_by=trusted,
                max_session_duration=Duration.hours(4),
                permissions_boundary=boundary,
            )
            # People arrive with a source identity (their name), which Studio profiles check.
            role.assume_role_policy.add_statements(  # type: ignore[union-attr]
                iam.PolicyStatement(actions=["sts:SetSourceIdentity"], principals=[trusted])
            )
            policy = iam.ManagedPolicy(self, f"{construct_name}Policy", description=f"{prefix}: {persona} permissions per tier")
            findings: list[str] = []
            for index, grant in enumerate(grants):
                policy.add_statements(
                    iam.PolicyStatement(
                        sid=f"Tier{grant.tier}{index}", actions=list(grant.actions), resources=grant.render(),
                        conditions=dict(grant.conditions) if grant.conditions else None,
                    )
                )
                findings += grant.wildcard_findings()
            role.add_managed_policy(policy)
            if findings:
                suppress(
                    policy,
                    "AwsSolutions-IAM5",
                    f"{persona}: List/Describe/Get actions that AWS authorises only on '*' (read-only), and "
                    f"resource patterns limited to names starting with the kit prefix '{prefix}-'",
                    applies_to=sorted(set(findings)),
                )
            self.roles[persona] = role


class SageMakerExecutionRole(Construct):
    """The role SageMaker assumes for Studio apps and shared jobs.

    It starts with what every job needs inside the VPC (logs, metrics, ECR pulls, ENIs,
    the data key); buckets, feature groups and registries grant it more where they are made.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        data_key: kms.IKey,
        boundary: iam.IManagedPolicy,
        description: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.role = iam.Role(
            self,
            "Resource",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=description or f"{prefix}: SageMaker execution role for Studio and shared jobs",
            permissions_boundary=boundary,
        )
        data_key.grant_encrypt_decrypt(self.role)
        add_job_basics(self.role)
        suppress(
            self.role,
            "AwsSolutions-IAM5",
            "KMS data-key variants (GenerateDataKey*, ReEncrypt*) on the kit's own key; job log groups under "
            "/aws/sagemaker/; ECR pulls, metric writes (namespace-conditioned) and VPC ENI calls that AWS "
            "authorises only on '*'",
            applies_to=JOB_BASICS_FINDINGS,
            children=True,
        )


JOB_BASICS_FINDINGS = [
    "Action::kms:GenerateDataKey*",
    "Action::kms:ReEncrypt*",
    "Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/sagemaker/*",
    "Resource::*",
]


def add_job_basics(role: iam.Role) -> None:
    """What any SageMaker job, app or endpoint needs to run inside the kit's VPC."""
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="JobLogs",
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            resources=[f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:/aws/sagemaker/*"],
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="JobMetrics",
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*", "aws/sagemaker/*"]}},
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="PullContainerImages",
            actions=["ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
            resources=["*"],
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="VpcNetworkInterfaces",
            actions=[
                "ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
                "ec2:DeleteNetworkInterfacePermission", "ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs",
                "ec2:DescribeDhcpOptions", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups",
            ],
            resources=["*"],
        )
    )
