"""What every rule of the pack shares: the resource's CloudFormation properties and how a value counts.

Rules read a resource the way cdk-nag's own rules do: ``Stack.of(node).resolve(...)`` over the
L1's properties, rendered with CloudFormation's spelling (``_render_properties``), so an L1
built from Python structs, camelCase dicts or a raw ``CfnResource`` all look the same.
Property overrides (``add_property_override``) are not seen, as in cdk-nag's own rules.

Tokens never fail a rule. A resolved value that is still an intrinsic (``Ref``,
``Fn::GetAtt``, ``Fn::ImportValue``, ``Fn::Join``...) names something CloudFormation fills in
at deploy time: it counts as *present* (a key ARN or subnet from a resource), and for a
true/false setting as *unknown*, which the rule reports as compliant. Inside a Step Functions
or pipeline definition a ``.$`` path or a ``Get``/``Std:`` expression is the same kind of
runtime value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import jsii
from aws_cdk import CfnResource, Stack
from cdk_nag import IApplyRule, NagMessageLevel, NagRuleCompliance

# What a rule returns: one finding ID per missing setting ("Steps/Train/VolumeKmsKeyId"), so a
# suppression can name exactly the finding it accepts (NagPackSuppression applies_to).
Result = NagRuleCompliance | list[str]
Check = Callable[[CfnResource], Result]

# What a token inside a definition string is replaced with before parsing it as JSON.
TOKEN = "${Token[kit-rules]}"


@dataclass(frozen=True, kw_only=True)
class Rule:
    """One rule of the pack: the resource types it reads, what it says, and its check."""

    id: str
    resource_types: frozenset[str]
    info: str
    explanation: str
    check: Check
    level: NagMessageLevel = NagMessageLevel.ERROR


@jsii.implements(IApplyRule)
class AppliedRule:
    """A rule applied to one resource, in the shape ``NagPack.applyRule`` calls back into.

    jsii finds an interface's members on the class, not the instance: they are properties.
    """

    def __init__(self, rule: Rule, node: CfnResource) -> None:
        self._rule = rule
        self._node = node

    @property
    def rule_suffix_override(self) -> str:
        return self._rule.id

    @property
    def info(self) -> str:
        return self._rule.info

    @property
    def explanation(self) -> str:
        return self._rule.explanation

    @property
    def level(self) -> NagMessageLevel:
        return self._rule.level

    @property
    def node(self) -> CfnResource:
        return self._node

    @property
    def ignore_suppression_condition(self) -> None:
        return None

    def rule(self, node: CfnResource) -> Result:
        return self._rule.check(node)


def properties(node: CfnResource) -> dict[str, Any]:
    """The resource's properties as they appear in the template, intrinsics left as dicts."""
    rendered = Stack.of(node).resolve(node._render_properties(node._cfn_properties))
    return rendered if isinstance(rendered, dict) else {}


def is_intrinsic(value: object) -> bool:
    """A CloudFormation intrinsic or pseudo reference, resolved only at deploy time."""
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in _INTRINSICS


def is_runtime(value: object) -> bool:
    """A value known only when the resource runs: a token, a deploy-time intrinsic or a pipeline expression."""
    if isinstance(value, str):
        return TOKEN in value
    return is_intrinsic(value) or (isinstance(value, dict) and len(value) == 1 and _is_expression(next(iter(value))))


def present(value: object) -> bool:
    """Set to something: a non-empty literal, or a token that CloudFormation or the service fills in."""
    return not (value is None or value == "" or value == [] or value == {})


def is_true(value: object) -> bool:
    """True, "true", or a runtime value (unknown until deploy: taken as compliant)."""
    return value is True or (isinstance(value, str) and value.lower() == "true") or is_runtime(value)


def is_false(value: object) -> bool:
    """Explicitly off: False or "false" (a runtime value is never taken as off)."""
    return value is False or (isinstance(value, str) and value.lower() == "false")


def dig(value: object, *path: str) -> Any:
    """``value[path[0]][path[1]]...``, or None where a level is missing or not a mapping."""
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def has_vpc(vpc_config: object) -> bool:
    """A VpcConfig with security groups and subnets (a token for the whole list counts)."""
    if is_runtime(vpc_config):
        return True
    return present(dig(vpc_config, "SecurityGroupIds")) and present(dig(vpc_config, "Subnets"))


def findings(missing: Iterable[str]) -> Result:
    found = sorted(set(missing))
    return found if found else NagRuleCompliance.COMPLIANT


def stack_resources(node: CfnResource, resource_type: str) -> list[CfnResource]:
    """Every L1 of ``resource_type`` in the stack that holds ``node``."""
    return [
        child
        for child in Stack.of(node).node.find_all()
        if isinstance(child, CfnResource) and child.cfn_resource_type == resource_type and Stack.of(child) is Stack.of(node)
    ]


def _is_expression(key: str) -> bool:
    # SageMaker pipeline expressions: {"Get": "Steps.X.Y"}, {"Std:Join": ...}, {"Std:JsonGet": ...}.
    return key == "Get" or key.startswith("Std:")


_INTRINSICS = frozenset(
    {"Ref", "Fn::GetAtt", "Fn::ImportValue", "Fn::Join", "Fn::Sub", "Fn::Select", "Fn::If", "Fn::FindInMap", "Fn::Split", "Fn::Base64"}
)
