"""cdk-nag on every synth, and the one way the kit writes a suppression."""

from __future__ import annotations

import re
from collections.abc import Sequence

import cdk_nag
from aws_cdk import Aspects
from constructs import IConstruct


def apply_checks(scope: IConstruct) -> None:
    """AwsSolutions checks as an aspect; findings become synth errors, reports land in cdk.out."""
    Aspects.of(scope).add(cdk_nag.AwsSolutionsChecks(reports=True, verbose=True))


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
