"""The CloudFormation execution policy the kit's stacks need, instead of AdministratorAccess.

``cdk bootstrap`` gives CloudFormation's execution role ``AdministratorAccess`` unless
``--cloudformation-execution-policies`` names other managed policies
(https://docs.aws.amazon.com/cdk/v2/guide/bootstrapping-customizing.html). Whoever may
assume the CDK deploy role (DevOps, the delivery pipeline) then deploys with this policy's
reach only: the services the kit's templates use, IAM only on the roles and policies the kit
names (its prefix, or the stack names CDK derives role names from), and never IAM users,
access keys or the permission boundary's removal. ``mlops-kit execution-policy`` prints it
for a configuration's prefix; docs/devops.md shows how to create it and bootstrap with it.
"""

from __future__ import annotations

import json
from typing import Any

# Services whose resources the kit's templates create, read or wire (every AWS::<Service>::*
# type of a synthesized assembly maps to one of these; a test checks it).
SERVICES = (
    "application-autoscaling", "athena", "budgets", "cloudformation", "cloudtrail", "cloudwatch", "codebuild",
    "codeconnections", "codepipeline", "codestar-connections", "ec2", "ecr", "elasticfilesystem", "events", "glue",
    "kms", "lambda", "logs", "s3", "sagemaker", "servicecatalog", "sns", "ssm", "states",
)

# CloudFormation resource type service names that differ from the IAM service prefix.
CFN_TO_IAM = {
    "ApplicationAutoScaling": "application-autoscaling", "Budgets": "budgets", "CloudFormation": "cloudformation",
    "CloudTrail": "cloudtrail", "CloudWatch": "cloudwatch", "CodeBuild": "codebuild", "CodeConnections": "codeconnections",
    "CodePipeline": "codepipeline", "CodeStarConnections": "codestar-connections", "EC2": "ec2", "ECR": "ecr",
    "EFS": "elasticfilesystem", "Events": "events", "Glue": "glue", "IAM": "iam", "KMS": "kms", "Lambda": "lambda",
    "Logs": "logs", "S3": "s3", "SageMaker": "sagemaker", "ServiceCatalog": "servicecatalog", "SNS": "sns", "SSM": "ssm",
    "StepFunctions": "states", "Athena": "athena",
}

# Stack names CDK prefixes generated role and policy names with (``<stack>-<id>-<hash>``).
STACK_NAME_PATTERNS = ("Backbone*", "SharedAssets*", "Project-*", "Delivery*", "DeliveryAccess*", "DeliveryArtifacts-*")


def execution_policy(prefix: str) -> dict[str, Any]:
    """The policy document (IAM JSON) for a platform whose names start with ``prefix``."""
    iam_names = [f"{prefix}-*", *STACK_NAME_PATTERNS]
    roles = [f"arn:aws:iam::*:role/{name}" for name in iam_names]
    policies = [f"arn:aws:iam::*:policy/{name}" for name in iam_names]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "KitServices", "Effect": "Allow", "Action": [f"{service}:*" for service in SERVICES], "Resource": "*"},
            {"Sid": "ReadIdentity", "Effect": "Allow", "Action": ["iam:Get*", "iam:List*", "sts:GetCallerIdentity"], "Resource": "*"},
            {
                "Sid": "KitRolesAndPolicies",
                "Effect": "Allow",
                "Action": [
                    "iam:CreateRole", "iam:DeleteRole", "iam:UpdateRole", "iam:UpdateRoleDescription", "iam:UpdateAssumeRolePolicy",
                    "iam:TagRole", "iam:UntagRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:AttachRolePolicy",
                    "iam:DetachRolePolicy", "iam:PutRolePermissionsBoundary", "iam:PassRole", "iam:CreatePolicy",
                    "iam:DeletePolicy", "iam:CreatePolicyVersion", "iam:DeletePolicyVersion", "iam:TagPolicy", "iam:UntagPolicy",
                ],
                "Resource": [*roles, *policies],
            },
            {
                "Sid": "ServiceLinkedRoles",
                "Effect": "Allow",
                "Action": ["iam:CreateServiceLinkedRole"],
                "Resource": "arn:aws:iam::*:role/aws-service-role/*",
            },
            {
                "Sid": "NoUsersOrKeys",
                "Effect": "Deny",
                "Action": ["iam:CreateUser", "iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile"],
                "Resource": "*",
            },
            {
                # Only the CloudFormation stacks that own them change the boundary and personas;
                # nothing removes a boundary from a role.
                "Sid": "BoundaryStays",
                "Effect": "Deny",
                "Action": ["iam:DeleteRolePermissionsBoundary", "iam:DeleteUserPermissionsBoundary"],
                "Resource": "*",
            },
        ],
    }


def render(prefix: str) -> str:
    """The policy as the JSON file ``aws iam create-policy --policy-document`` takes."""
    return json.dumps(execution_policy(prefix), indent=2) + "\n"
