"""cdk-nag on every synth, and the one way the kit writes a suppression."""

from __future__ import annotations

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
