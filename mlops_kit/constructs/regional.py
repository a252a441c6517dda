"""Per-region values (container images) in stacks that may not know their region at synth."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import CfnMapping, Stack, Token
from constructs import Construct


def regional_value(scope: Construct, construct_id: str, table: Mapping[str, str]) -> str:
    """A literal when the stack's region is pinned and known; else a CloudFormation mapping by region."""
    region = Stack.of(scope).region
    if not Token.is_unresolved(region) and region in table:
        return table[region]
    mapping = CfnMapping(scope, construct_id, mapping={name: {"uri": value} for name, value in table.items()})
    return mapping.find_in_map(region, "uri")
