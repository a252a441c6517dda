"""The persona x action matrix, judged by Principal Mapper on the synthesized templates.

Each row says who tries what and whether AWS would allow it, with the identity policies,
the permission boundary, resource and endpoint policies and the request's condition keys
evaluated together (``tests/security/iam_judge.py``). The README's "Who may do what"
section is rendered from ``MATRIX`` and a test keeps it in step.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ROOT
from tests.security.iam_judge import ACCOUNT, REGION, Check, Platform, evaluate

SM = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"
PENDING = {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}
APPROVED = {"sagemaker:ModelApprovalStatus": "Approved"}
IN_VPC = {"sagemaker:VpcSubnets": "subnet-0abc"}
SERVING = {"ModelPackageGroupName": "mlops-credit-risk"}
ENDPOINT = f"{SM}:endpoint/mlops-credit-risk-production"
KEY = "{data_key}"
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/mlops-permission-boundary"

# (row, who, action, resource, allowed, context, resource policy, VPC endpoint)
MATRIX: tuple[Check, ...] = (
    # features, operations, cost
    Check("Read features", "data_scientist", "sagemaker:GetRecord", f"{SM}:feature-group/mlops-customers-1", True),
    Check("Create a feature group", "data_scientist", "sagemaker:CreateFeatureGroup", f"{SM}:feature-group/mlops-churn-1", False),
    Check("Write features", "ml_engineer", "sagemaker:PutRecord", f"{SM}:feature-group/mlops-customers-1", True),
    Check("Shift production traffic", "mlops_engineer", "sagemaker:UpdateEndpointWeightsAndCapacities", ENDPOINT, True),
    Check("Shift production traffic", "data_scientist", "sagemaker:UpdateEndpointWeightsAndCapacities", ENDPOINT, False),
    Check("Follow the budgets", "project_manager", "budgets:ViewBudget", f"arn:aws:budgets::{ACCOUNT}:budget/mlops-credit-risk", True),
    Check("Audit roles", "cloud_security", "iam:GetRole", f"arn:aws:iam::{ACCOUNT}:role/mlops-data-scientist", True),
    Check("Create an IAM user", "cloud_security", "iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/backdoor", False),
    Check("Create an access key", "devops_engineer", "iam:CreateAccessKey", f"arn:aws:iam::{ACCOUNT}:user/backdoor", False),
    Check("Deploy with the CDK deploy role", "devops_engineer", "sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/cdk-hnb659fds-deploy-role-{ACCOUNT}-{REGION}", True),
    Check("Create an endpoint", "fullstack_developer", "sagemaker:CreateEndpoint", ENDPOINT, False),
    Check("Write the project's data", "credit_risk_team", "s3:PutObject", "arn:aws:s3:::{credit_risk_bucket}/pipeline/train.csv", True),
    # running and registering
    Check("Run a project's pipeline", "data_scientist", "sagemaker:StartPipelineExecution", f"{SM}:pipeline/mlops-credit-risk", True),
    Check("Run a project's pipeline", "project_manager", "sagemaker:StartPipelineExecution", f"{SM}:pipeline/mlops-credit-risk", False),
    Check("Run a project's pipeline", "credit_risk_team", "sagemaker:StartPipelineExecution", f"{SM}:pipeline/mlops-credit-risk", True),
    Check("Run another project's pipeline", "credit_risk_team", "sagemaker:StartPipelineExecution", f"{SM}:pipeline/mlops-fraud", False),
    Check("Register a model, pending approval", "ml_engineer", "sagemaker:CreateModelPackage", f"{SM}:model-package/mlops-credit-risk/1", True, PENDING),
    Check("Register a model already Approved (injection)", "ml_engineer", "sagemaker:CreateModelPackage", f"{SM}:model-package/mlops-credit-risk/1", False, APPROVED),
    Check("Register a model without a status", "ml_engineer", "sagemaker:CreateModelPackage", f"{SM}:model-package/mlops-credit-risk/1", False),
    Check("Register a model, pending approval", "credit_risk_execution", "sagemaker:CreateModelPackage", f"{SM}:model-package/mlops-credit-risk/1", True, PENDING),
    Check("Register a model already Approved (injection)", "credit_risk_execution", "sagemaker:CreateModelPackage", f"{SM}:model-package/mlops-credit-risk/1", False, APPROVED),
    Check("Register into another project's group", "credit_risk_execution", "sagemaker:CreateModelPackage", f"{SM}:model-package/mlops-fraud/1", False, PENDING),
    # approving
    Check("Approve a model package (self-approval)", "ml_engineer", "sagemaker:UpdateModelPackage", f"{SM}:model-package/mlops-credit-risk/1", False),
    Check("Approve a model package", "mlops_engineer", "sagemaker:UpdateModelPackage", f"{SM}:model-package/mlops-credit-risk/1", True),
    Check("Approve a model package", "credit_risk_team", "sagemaker:UpdateModelPackage", f"{SM}:model-package/mlops-credit-risk/1", True),
    Check("Approve another project's package", "credit_risk_team", "sagemaker:UpdateModelPackage", f"{SM}:model-package/mlops-fraud/1", False),
    Check("Approve production (task token)", "credit_risk_team", "states:SendTaskSuccess", "*", True),
    Check("Approve production (task token)", "mlops_engineer", "states:SendTaskSuccess", "*", True),
    Check("Approve production (task token)", "project_manager", "states:SendTaskSuccess", "*", True),
    Check("Approve production (task token)", "ml_engineer", "states:SendTaskSuccess", "*", False),
    Check("Approve production (task token)", "data_scientist", "states:SendTaskSuccess", "*", False),
    Check("Approve production (task token)", "credit_risk_execution", "states:SendTaskSuccess", "*", False),
    # data
    Check("Read the project's data", "credit_risk_team", "s3:GetObject", "arn:aws:s3:::{credit_risk_bucket}/pipeline/train.csv", True),
    Check("Read another project's data", "credit_risk_team", "s3:GetObject", "arn:aws:s3:::{fraud_bucket}/pipeline/train.csv", False),
    Check("Read another project's data", "credit_risk_execution", "s3:GetObject", "arn:aws:s3:::{fraud_bucket}/pipeline/train.csv", False),
    Check("Read another account's bucket through the S3 endpoint", "cloud_security", "s3:GetBucketPolicy", "arn:aws:s3:::outside-bucket", False, {"aws:ResourceAccount": "999999999999"}, None, "S3Endpoint"),
    Check("Read the platform's bucket settings through the S3 endpoint", "cloud_security", "s3:GetBucketPolicy", "arn:aws:s3:::{credit_risk_bucket}", True, {"aws:ResourceAccount": ACCOUNT}, None, "S3Endpoint"),
    # Studio
    Check("Open one's own Studio profile", "data_scientist", "sagemaker:CreatePresignedDomainUrl", f"{SM}:user-profile/d-kit/mlops-example-scientist", True, {"aws:SourceIdentity": "example-scientist"}),
    Check("Open another person's Studio profile", "data_scientist", "sagemaker:CreatePresignedDomainUrl", f"{SM}:user-profile/d-kit/mlops-example-scientist", False, {"aws:SourceIdentity": "someone-else"}),
    Check("Open another person's Studio profile", "data_scientist", "sagemaker:CreatePresignedDomainUrl", f"{SM}:user-profile/d-kit/mlops-example-engineer", False, {"aws:SourceIdentity": "example-scientist"}),
    # compute stays in the VPC
    Check("Train inside the VPC", "credit_risk_execution", "sagemaker:CreateTrainingJob", f"{SM}:training-job/pipelines-abc", True, IN_VPC),
    Check("Train outside the VPC", "credit_risk_execution", "sagemaker:CreateTrainingJob", f"{SM}:training-job/pipelines-abc", False),
    Check("Create a model outside the VPC", "credit_risk_execution", "sagemaker:CreateModel", f"{SM}:model/pipelines-abc", False),
    Check("Start a labeling job", "shared_execution", "sagemaker:CreateLabelingJob", f"{SM}:labeling-job/any", False),
    Check("Stop another project's job (pipelines-*)", "credit_risk_execution", "sagemaker:StopTrainingJob", f"{SM}:training-job/pipelines-other", False),
    # deploying
    Check("Register production autoscaling", "credit_risk_deploy", "application-autoscaling:RegisterScalableTarget", "*", True),
    Check("Create the autoscaling service-linked role", "credit_risk_deploy", "iam:CreateServiceLinkedRole", f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint", True, {"iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com"}),
    Check("Call a production endpoint", "fullstack_developer", "sagemaker:InvokeEndpoint", ENDPOINT, True),
    Check("Delete a production endpoint", "fullstack_developer", "sagemaker:DeleteEndpoint", ENDPOINT, False),
    Check("Approve a stage of the kit's delivery pipeline", "devops_engineer", "codepipeline:PutApprovalResult", f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:mlops-delivery/Approve/Promote", True),
    Check("Approve a stage of another pipeline", "devops_engineer", "codepipeline:PutApprovalResult", f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:payments/Approve/Promote", False),
    # keys and the boundary
    Check("Schedule the data key's deletion", "cloud_security", "kms:ScheduleKeyDeletion", KEY, False),
    Check("Schedule the data key's deletion", "devops_engineer", "kms:ScheduleKeyDeletion", KEY, False),
    Check("Decrypt with the data key directly", "data_scientist", "kms:Decrypt", KEY, False, None, ("Backbone", "DataKey", "AWS::KMS::Key")),
    Check("Decrypt with the data key through S3", "data_scientist", "kms:Decrypt", KEY, True, {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}, ("Backbone", "DataKey", "AWS::KMS::Key")),
    Check("Remove the permission boundary", "mlops_engineer", "iam:DeleteRolePermissionsBoundary", f"arn:aws:iam::{ACCOUNT}:role/mlops-mlops-engineer", False),
    Check("Change the permission boundary", "cloud_security", "iam:CreatePolicyVersion", BOUNDARY, False),
)

PERSONAS = ("data_scientist", "ml_engineer", "mlops_engineer", "devops_engineer", "cloud_security", "project_manager", "fullstack_developer")


@pytest.fixture(scope="module")
def platform(templates: dict[str, dict[str, Any]]) -> Platform:
    return Platform(templates)


@pytest.fixture(scope="module")
def principals(platform: Platform) -> dict[str, str]:
    found = {persona: f"mlops-{persona.replace('_', '-')}" for persona in PERSONAS}
    found["shared_execution"] = platform.role_named_like("Backbone", "SageMaker execution role for Studio and shared jobs")
    for project in ("credit-risk", "fraud"):
        key = project.replace("-", "_")
        stack = f"Project-{project}"
        found[f"{key}_execution"] = platform.role_named_like(stack, f"SageMaker execution role of project {project}")
        found[f"{key}_team"] = platform.role_named_like(stack, f"project team of {project}")
        found[f"{key}_deploy"] = platform.state_machine_role(stack)
    return found


@pytest.fixture(scope="module")
def buckets(platform: Platform) -> dict[str, str]:
    return {
        "data_key": platform.key_arn("Backbone", "DataKey"),
        "credit_risk_bucket": platform.bucket("Project-credit-risk", "ProjectData"),
        "fraud_bucket": platform.bucket("Project-fraud", "ProjectData"),
    }


@pytest.mark.parametrize("check", MATRIX, ids=[f"{c.who}: {c.row}" for c in MATRIX])
def test_matrix(platform: Platform, principals: dict[str, str], buckets: dict[str, str], check: Check) -> None:
    resolved = Check(**{**check.__dict__, "resource": check.resource.format(**buckets)})
    assert evaluate(platform, principals, resolved) is check.expected


def test_the_matrix_covers_every_persona_and_project_role() -> None:
    whos = {check.who for check in MATRIX}
    assert set(PERSONAS) <= whos
    assert {"shared_execution", "credit_risk_execution", "credit_risk_team", "credit_risk_deploy"} <= whos
    assert len({check.action for check in MATRIX}) >= 25


def render_matrix() -> str:
    """The README's table: one line per row of ``MATRIX``."""
    lines = ["| who | tries to | allowed |", "|---|---|---|"]
    lines += [f"| {c.who.replace('_', ' ')} | {c.row} (`{c.action}`) | {'yes' if c.expected else '**no**'} |" for c in MATRIX]
    return "\n".join(lines)


def test_readme_shows_the_matrix() -> None:
    readme = (ROOT / "README.md").read_text()
    begin, end = "<!-- persona-matrix:begin -->", "<!-- persona-matrix:end -->"
    assert readme[readme.index(begin) + len(begin):readme.index(end)].strip() == render_matrix()
