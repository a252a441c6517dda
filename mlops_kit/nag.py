"""cdk-nag on every synth, and the one way the kit writes a suppression."""

from __future__ import annotations

import re
from collections.abc import Sequence

import cdk_nag
import jsii
from aws_cdk import Aspects, IAspect, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import IConstruct

from mlops_kit.rules import KitSageMakerChecks

INLINE_POLICY_REASON = (
    "A policy resource of this stack attached only to named roles: CDK's grants write one such policy per role, "
    "scoped to that role's resources; a managed policy would be reusable by other principals, not narrower"
)


@jsii.implements(IAspect)
class _RolePoliciesAreReviewedWithTheirRoles:
    """Suppresses NIST's IAMNoInlinePolicy on each ``AWS::IAM::Policy`` that names roles only (no users, no groups)."""

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, iam.CfnPolicy):
            return
        # The L2 policy fills these lists lazily: resolve them to see who it is attached to.
        stack = Stack.of(node)
        roles, users, groups = (stack.resolve(attached) for attached in (node.roles, node.users, node.groups))
        if roles and not users and not groups:
            suppress(node, "NIST.800.53.R5-IAMNoInlinePolicy", INLINE_POLICY_REASON)


def apply_checks(scope: IConstruct) -> None:
    """AwsSolutions, NIST 800-53 R5 and the kit's SageMaker pack as aspects; findings become synth errors, reports land in cdk.out."""
    # Before the packs: suppressions must be in place when they visit a construct.
    Aspects.of(scope).add(_RolePoliciesAreReviewedWithTheirRoles())
    Aspects.of(scope).add(cdk_nag.AwsSolutionsChecks(reports=True, verbose=True))
    Aspects.of(scope).add(cdk_nag.NIST80053R5Checks(reports=True, verbose=True))
    Aspects.of(scope).add(KitSageMakerChecks(reports=True, verbose=True))


def suppress(
    construct: IConstruct,
    rule: str,
    reason: str,
    *,
    applies_to: Sequence[str | cdk_nag.RegexAppliesTo] = (),
    children: bool = False,
) -> None:
    """Suppress one rule on one construct, with the reason written out.

    ``applies_to`` narrows IAM wildcard findings to the exact wildcard that is justified
    (a ``RegexAppliesTo`` only where a finding names a generated logical ID);
    ``children`` is for L2 constructs whose finding sits on a generated child (a role's
    default policy, say).
    """
    if len(reason) < 20:
        raise ValueError(f"a suppression of {rule} needs a real reason, got {reason!r}")
    cdk_nag.NagSuppressions.add_resource_suppressions(
        construct,
        [cdk_nag.NagPackSuppression(id=rule, reason=reason, applies_to=list(applies_to) or None)],
        apply_to_children=children,
    )


def nag_arn(service: str, resource: str) -> cdk_nag.RegexAppliesTo:
    """The IAM5 finding ``Resource::arn:<partition>:<service>:<region>:<account>:<resource>``.

    A pattern, because cdk-nag prints ``<AWS::Region>`` for an environment-agnostic stack
    and the literal region and account for a pinned one.
    """
    escaped = re.escape(resource).replace("/", "\\/")
    return cdk_nag.RegexAppliesTo(regex=f"/^Resource::arn:{_SEGMENT}:{service}:{_SEGMENT}:{_SEGMENT}?:{escaped}$/")


# One ARN segment as cdk-nag prints it: a pseudo parameter (which holds colons) or a literal.
_SEGMENT = "(?:<AWS::[A-Za-z]+>|[^:<>]+)"


def suppress_replication(bucket: s3.IBucket) -> None:
    """NIST's S3BucketReplicationEnabled, on one bucket: replication is a cost the platform leaves opt-in."""
    suppress(
        bucket,
        "NIST.800.53.R5-S3BucketReplicationEnabled",
        "Versioned, retained and KMS-encrypted in one region; cross-region replication doubles storage cost and needs "
        "a second region, so it is left to organisations that require it (lean platform)",
    )
