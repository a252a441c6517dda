"""Split a CloudFormation template into what moto's CloudFormation can create and what it cannot.

Every resource gets a *kind*:

``native``      moto's CloudFormation has a model for the type: it stays in the template.
``api``         a type moto's CloudFormation skips but whose service API moto implements
                (SageMaker types in ``sagemaker_api.CREATORS``; bucket and topic policies,
                alarms, budgets, Glue databases in ``service_api.CREATORS``): stripped, then
                created through that API.
``predicted``   a SageMaker type moto implements nowhere: stripped, reported unchecked; its
                ``Ref``/``Fn::GetAtt`` values are predicted so that dependents still deploy.
``custom``      ``Custom::*`` / ``AWS::CloudFormation::CustomResource``: its Lambda would need
                Docker to run in moto (and moto would wait for the answer), so it is stripped
                and reported unchecked; its values become placeholders.
``unsupported`` any other type moto's CloudFormation does not know (``AWS::CDK::Metadata``,
                ``AWS::EC2::SecurityGroupEgress``, ...):
                moto would drop it silently and fail any ``Fn::GetAtt`` to it, so it is
                stripped and reported unchecked, with placeholder values.

Native resources may refer to api/predicted ones and the other way round (a domain needs the
VPC's subnets; an SSM parameter publishes the domain id). So the deploy runs in *waves*: wave 0
creates the native resources that need nothing from the API side, then the API side creates
what it can from their values, then wave 1 (an ``UpdateStack`` that only adds resources) creates
the native resources that needed those, and so on. ``wave`` below is the first wave in which a
resource's inputs are all known. Outputs get waves the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from mlops_kit.local import sagemaker_api, service_api
from mlops_kit.local.intrinsics import getatt_pairs, references

NATIVE = "native"
API = "api"
PREDICTED = "predicted"
CUSTOM = "custom"
UNSUPPORTED = "unsupported"

API_PHASE = (API, PREDICTED)  # values known after the API phase of their wave


@lru_cache(maxsize=1)
def moto_cloudformation_types() -> dict[str, Any]:
    """The resource types moto's CloudFormation creates, mapped to its model classes.

    Read from the installed moto (the same package the embedded server runs), so the table
    follows moto upgrades.
    """
    from moto.cloudformation.parsing import get_model_map

    return {
        name: cls
        for name, cls in get_model_map().items()
        if name.startswith("AWS::") and name != "AWS::SERVICE::RESOURCE"
    }


def kind_of(cfn_type: str, native_types: Mapping[str, Any]) -> str:
    if cfn_type.startswith("Custom::") or cfn_type == "AWS::CloudFormation::CustomResource":
        return CUSTOM
    if service_api.is_api_type(cfn_type):
        return API  # before NATIVE: a state machine moto's CloudFormation creates never executes
    if cfn_type in native_types:
        return NATIVE
    if sagemaker_api.is_api_type(cfn_type):
        return API
    if cfn_type.startswith("AWS::SageMaker::"):
        return PREDICTED
    return UNSUPPORTED


@dataclass
class ResourcePlan:
    logical_id: str
    cfn_type: str
    kind: str
    deps: set[str]
    wave: int = 0
    condition: str | None = None


@dataclass
class StackPlan:
    resources: dict[str, ResourcePlan]
    output_waves: dict[str, int]
    waves: int  # number of waves (>= 1)
    notes: list[str] = field(default_factory=list)

    def of_kind(self, *kinds: str) -> list[ResourcePlan]:
        return [r for r in self.resources.values() if r.kind in kinds]

    def api_phase_order(self, wave: int) -> list[ResourcePlan]:
        """API-side resources of ``wave`` in dependency order among themselves."""
        chosen = {r.logical_id: r for r in self.of_kind(*API_PHASE) if r.wave == wave}
        ordered: list[ResourcePlan] = []
        seen: set[str] = set()

        def visit(name: str) -> None:
            if name in seen or name not in chosen:
                return
            seen.add(name)
            for dep in sorted(chosen[name].deps):
                visit(dep)
            ordered.append(chosen[name])

        for name in chosen:
            visit(name)
        return ordered


def plan_template(template: Mapping[str, Any], native_types: Mapping[str, Any] | None = None) -> StackPlan:
    """Classify the resources of ``template`` and give each its wave."""
    native_types = moto_cloudformation_types() if native_types is None else native_types
    resources: dict[str, ResourcePlan] = {}
    raw = template.get("Resources") or {}
    for logical_id, body in raw.items():
        deps = references({k: v for k, v in body.items() if k in ("Properties", "Condition")})
        depends_on = body.get("DependsOn") or []
        deps |= {depends_on} if isinstance(depends_on, str) else set(depends_on)
        resources[logical_id] = ResourcePlan(
            logical_id=logical_id,
            cfn_type=body["Type"],
            kind=kind_of(body["Type"], native_types),
            deps={d for d in deps if d in raw and d != logical_id},
            condition=body.get("Condition"),
        )

    memo: dict[str, int] = {}

    def wave_of(name: str, trail: tuple[str, ...] = ()) -> int:
        if name in memo:
            return memo[name]
        if name in trail:
            raise ValueError(f"circular dependency between resources: {' -> '.join((*trail, name))}")
        plan = resources[name]
        if plan.kind in (CUSTOM, UNSUPPORTED):
            memo[name] = 0
            return 0
        wave = 0
        for dep in plan.deps:
            dep_plan = resources[dep]
            if dep_plan.kind in (CUSTOM, UNSUPPORTED):
                continue
            dep_wave = wave_of(dep, (*trail, name))
            bump = 1 if plan.kind == NATIVE and dep_plan.kind in API_PHASE else 0
            wave = max(wave, dep_wave + bump)
        memo[name] = wave
        return wave

    for name, plan in resources.items():
        plan.wave = wave_of(name)

    output_waves: dict[str, int] = {}
    for key, output in (template.get("Outputs") or {}).items():
        wave = 0
        for dep in references(output.get("Value")):
            if dep in resources and resources[dep].kind == NATIVE:
                wave = max(wave, resources[dep].wave)
            elif dep in resources and resources[dep].kind in API_PHASE:
                wave = max(wave, resources[dep].wave + 1)
        output_waves[key] = wave

    waves = 1 + max(
        [p.wave for p in resources.values() if p.kind == NATIVE] + list(output_waves.values()) + [0]
    )
    # API-side resources of the last native wave still need that wave's stack operation first.
    waves = max(waves, 1 + max([p.wave for p in resources.values() if p.kind in API_PHASE] + [0]))
    return StackPlan(resources=resources, output_waves=output_waves, waves=waves)


_DUMMY_AZ = re.compile(r"^dummy1([a-z])$")


def fix_dummy_azs(value: Any, region: str, found: list[str]) -> Any:
    """``dummy1a`` -> ``<region>a``: what the CDK writes when it synthesized without AZ lookups."""
    if isinstance(value, str):
        match = _DUMMY_AZ.match(value)
        if match:
            found.append(value)
            return f"{region}{match.group(1)}"
        return value
    if isinstance(value, dict):
        return {k: fix_dummy_azs(v, region, found) for k, v in value.items()}
    if isinstance(value, list):
        return [fix_dummy_azs(v, region, found) for v in value]
    return value


def native_getatt_supported(cfn_type: str, attr: str, native_types: Mapping[str, Any] | None = None) -> bool:
    native_types = moto_cloudformation_types() if native_types is None else native_types
    model = native_types.get(cfn_type)
    if model is None:
        return False
    try:
        return bool(model.has_cfn_attr(attr))
    except Exception:
        return False


__all__ = [
    "API",
    "API_PHASE",
    "CUSTOM",
    "NATIVE",
    "PREDICTED",
    "UNSUPPORTED",
    "ResourcePlan",
    "StackPlan",
    "fix_dummy_azs",
    "getatt_pairs",
    "kind_of",
    "moto_cloudformation_types",
    "native_getatt_supported",
    "plan_template",
]
