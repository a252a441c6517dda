"""KitSageMaker-ModelPackageGroupPolicy: a model package group's resource policy names accounts, never ``*``.

``ModelPackageGroupPolicy`` is how other accounts (staging, production) read a registry's model
packages. A ``*`` principal opens the group to every AWS account; conditions can narrow it but
are easy to get wrong, so the kit names each account.
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-sagemaker-modelpackagegroup.html,
https://docs.aws.amazon.com/sagemaker/latest/dg/model-registry-version-cross-account.html)

The policy may be an object or JSON text. Tokens: a principal that resolves to an intrinsic
(an account from a parameter, a role's ARN) counts as named; a policy that is itself a token is N/A.
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import CfnResource
from cdk_nag import NagRuleCompliance

from mlops_kit.rules._base import Result, Rule, as_list, findings, is_runtime, properties


def _wildcards(principal: Any) -> bool:
    if isinstance(principal, str):
        return "*" in principal and not is_runtime(principal)
    if isinstance(principal, dict) and not is_runtime(principal):
        return any(_wildcards(value) for value in principal.values())
    if isinstance(principal, list):
        return any(_wildcards(value) for value in principal)
    return False


def check(node: CfnResource) -> Result:
    policy = properties(node).get("ModelPackageGroupPolicy")
    if policy is None:
        return NagRuleCompliance.NOT_APPLICABLE
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except json.JSONDecodeError:
            return NagRuleCompliance.NOT_APPLICABLE
    if not isinstance(policy, dict) or is_runtime(policy):
        return NagRuleCompliance.NOT_APPLICABLE
    statements = policy.get("Statement")
    statements = statements if isinstance(statements, list) else [statements]
    missing = []
    for index, statement in enumerate(as_list(statements)):
        if not isinstance(statement, dict):
            continue
        if "NotPrincipal" in statement or _wildcards(statement.get("Principal")):
            missing.append(f"Statement/{statement.get('Sid', index)}/Principal")
    return findings(missing)


RULE = Rule(
    id="ModelPackageGroupPolicy",
    resource_types=frozenset({"AWS::SageMaker::ModelPackageGroup"}),
    info="A model package group's resource policy grants to '*' (or uses NotPrincipal) instead of naming accounts.",
    explanation=(
        "A wildcard principal lets any AWS account describe and use the registry's model packages, and with them "
        "the model artifacts. Fix: name each consuming account (arn:aws:iam::<account>:root) in Principal.AWS; "
        "the kit's ModelRegistry construct writes one statement per delivery account."
    ),
    check=check,
)
