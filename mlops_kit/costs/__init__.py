"""What the synthesized platform costs a month while idle, read from the templates in ``cdk.out``.

Prices come from ``prices.json`` shipped next to this module: one entry per billable item with
its price, unit, region, source page and the date it was taken (``checked: false`` marks a figure
not read on AWS's page when the table was written). They are us-east-1 list prices. A stack
pinned to another region is *marked*, not scaled: regional differences are uneven per service,
and a guessed factor would look more precise than it is.

"Idle" is what bills with no work running: interface endpoints per AZ-hour, NAT gateways, KMS
keys, an MLflow tracking server, dashboards beyond the free three, alarm metrics beyond the
free ten, budgets beyond the free two, advanced SSM parameters. Endpoints created by a project's
deploy flow are counted at their minimum instance count and listed apart: they exist only after
the flow has run. Usage-based items (storage, requests, jobs, Studio apps) are listed unpriced.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from mlops_kit.checks import stack_templates
from mlops_kit.errors import KitError

PRICED_TYPES = (
    "AWS::EC2::VPCEndpoint",
    "AWS::EC2::NatGateway",
    "AWS::KMS::Key",
    "AWS::SageMaker::MlflowTrackingServer",
    "AWS::CloudWatch::Dashboard",
    "AWS::CloudWatch::Alarm",
    "AWS::Budgets::Budget",
    "AWS::SSM::Parameter",
    "AWS::StepFunctions::StateMachine",
)
# Per-account free allowances: the price key and what the allowance is called.
FREE_ALLOWANCES = {"dashboard_month": "dashboards", "alarm_metric_month": "alarm metrics", "budget_day": "budgets"}


@dataclass(frozen=True)
class Price:
    key: str
    price: float
    unit: str
    region: str
    source: str
    date: str
    checked: bool
    free: int = 0
    usage: bool = False
    note: str = ""
    instance_types: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class PriceTable:
    date: str
    region: str
    hours_per_month: float
    days_per_month: float
    prices: Mapping[str, Price]
    usage_based: Mapping[str, str]

    def __getitem__(self, key: str) -> Price:
        return self.prices[key]

    def monthly(self, key: str) -> float:
        """The monthly price of one unit of ``key`` (hourly and daily prices scaled to a month)."""
        price = self.prices[key]
        if key.endswith("_hour"):
            return price.price * self.hours_per_month
        if key.endswith("_day"):
            return price.price * self.days_per_month
        return price.price


@cache
def load_prices() -> PriceTable:
    """The price table shipped with the package."""
    data = json.loads(resources.files(__package__).joinpath("prices.json").read_text(encoding="utf-8"))
    prices = {key: Price(key=key, **entry) for key, entry in data["prices"].items()}
    return PriceTable(
        date=data["date"], region=data["region"], hours_per_month=data["hours_per_month"],
        days_per_month=data["days_per_month"], prices=prices, usage_based=data["usage_based"],
    )


@dataclass(frozen=True)
class Line:
    """One priced item of one stack: ``quantity`` units of ``price_key`` a month."""

    stack: str
    item: str
    price_key: str
    quantity: float
    monthly: float
    after_deploy: bool = False


@dataclass
class Estimate:
    table: PriceTable
    lines: list[Line]
    unpriced: dict[str, Counter[str]]  # stack -> resource type -> count
    regions: dict[str, str]  # stack -> region ("" when environment-agnostic)

    @property
    def stacks(self) -> list[str]:
        return list(self.regions)

    def stack_total(self, stack: str) -> float:
        return sum(line.monthly for line in self.lines if line.stack == stack and not line.after_deploy)

    def free_credit(self) -> dict[str, float]:
        """Per allowance: what the account's free units take off the gross total."""
        credit: dict[str, float] = {}
        for key, name in FREE_ALLOWANCES.items():
            units = sum(line.quantity for line in self.lines if line.price_key == key)
            free = min(units, self.table[key].free)
            if free:
                credit[name] = free * self.table.monthly(key)
        return credit

    @property
    def idle_total(self) -> float:
        return sum(self.stack_total(stack) for stack in self.stacks) - sum(self.free_credit().values())

    @property
    def after_deploy(self) -> list[Line]:
        return [line for line in self.lines if line.after_deploy]

    @property
    def after_deploy_total(self) -> float:
        return sum(line.monthly for line in self.after_deploy)

    def brief(self) -> str:
        """The one line ``synth`` prints and the README quotes."""
        text = f"idle estimate: ${self.idle_total:,.2f} a month ({self.table.region} list prices of {self.table.date})"
        if self.after_deploy:
            text += f"; deployed endpoints at minimum capacity add ${self.after_deploy_total:,.2f}"
        return text

    def render(self) -> str:
        out = [f"Idle monthly estimate, {self.table.region} list prices of {self.table.date} ({self.table.hours_per_month:g} h a month)"]
        header = f"  {'stack':<28} {'item':<52} {'qty':>6} {'$/month':>10}"
        out += [header, "  " + "-" * (len(header) - 2)]
        for stack in self.stacks:
            for line in self.lines:
                if line.stack == stack and not line.after_deploy:
                    out.append(f"  {stack:<28} {line.item:<52} {line.quantity:>6g} {line.monthly:>10.2f}")
        out.append("  " + "-" * (len(header) - 2))
        for stack in self.stacks:
            mark = self._region_mark(stack)
            out.append(f"  {stack:<28} {'stack total' + mark:<52} {'':>6} {self.stack_total(stack):>10.2f}")
        for name, credit in self.free_credit().items():
            out.append(f"  {'(account)':<28} {'free ' + name:<52} {'':>6} {-credit:>10.2f}")
        out.append(f"  {'TOTAL idle':<28} {'':<52} {'':>6} {self.idle_total:>10.2f}")
        if self.after_deploy:
            out.append("After a deploy of a project's flow (endpoints at their minimum instance count; absent until then):")
            out += [f"  {line.stack:<28} {line.item:<52} {line.quantity:>6g} {line.monthly:>10.2f}" for line in self.after_deploy]
            out.append(f"  {'TOTAL after deploy':<28} {'':<52} {'':>6} {self.after_deploy_total:>10.2f}")
        out.append("Not priced (usage-based: billed by storage, requests or running time, $0 while idle):")
        for stack, types in self.unpriced.items():
            for kind, count in sorted(types.items()):
                out.append(f"  {stack:<28} {count:>3} x {kind}: {self.table.usage_based.get(kind, 'usage')}")
        unchecked = sorted({line.price_key for line in self.lines if not self.table[line.price_key].checked})
        if unchecked:
            out.append("Prices not read on AWS's page when the table was written (confirm them): " + ", ".join(unchecked))
        return "\n".join(out)

    def _region_mark(self, stack: str) -> str:
        region = self.regions.get(stack, "")
        return f" ({region}: {self.table.region} prices, not scaled)" if region and region != self.table.region else ""


def estimate(assembly: Path, table: PriceTable | None = None) -> Estimate:
    """Price every stack template of a synthesized cloud assembly."""
    table = table or load_prices()
    templates = stack_templates(assembly)
    if not templates:
        raise KitError(f"{assembly}: no cloud assembly here (manifest.json missing or empty); run `mlops-kit synth` first")
    regions = _stack_regions(assembly)
    result = Estimate(table=table, lines=[], unpriced={}, regions={})
    for stack, template in templates.items():
        result.regions[stack] = regions.get(stack, "")
        resources_ = json.loads(template.read_text()).get("Resources", {})
        for line in _price_stack(stack, resources_, table):
            result.lines.append(line)
        usage = Counter(r["Type"] for r in resources_.values() if r.get("Type") in table.usage_based)
        if usage:
            result.unpriced[stack] = usage
    return result


def _stack_regions(assembly: Path) -> dict[str, str]:
    """Each stack's pinned region from the manifest ('' when environment-agnostic)."""
    found: dict[str, str] = {}
    manifest = json.loads((assembly / "manifest.json").read_text())
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") == "aws:cloudformation:stack":
            region = artifact.get("environment", "").rsplit("/", 1)[-1]
            found[artifact.get("displayName", artifact_id)] = "" if region.startswith("unknown") else region
    return found


def _price_stack(stack: str, resources_: Mapping[str, Any], table: PriceTable) -> Iterator[Line]:
    def line(item: str, key: str, quantity: float, after_deploy: bool = False, unit: float | None = None) -> Line:
        monthly = quantity * (unit if unit is not None else table.monthly(key))
        return Line(stack, item, key, quantity, round(monthly, 2), after_deploy)

    counts: Counter[str] = Counter()
    for resource in resources_.values():
        kind, props = resource.get("Type"), resource.get("Properties", {})
        if kind == "AWS::EC2::VPCEndpoint" and props.get("VpcEndpointType") == "Interface":
            counts["interface_endpoint_az_hour"] += _subnet_count(props)
        elif kind == "AWS::EC2::NatGateway":
            counts["nat_gateway_hour"] += 1
        elif kind == "AWS::KMS::Key":
            counts["kms_key_month"] += 1
        elif kind == "AWS::SageMaker::MlflowTrackingServer":
            counts[f"mlflow_server_{str(props.get('TrackingServerSize', 'Small')).lower()}_hour"] += 1
        elif kind == "AWS::CloudWatch::Dashboard":
            counts["dashboard_month"] += 1
        elif kind == "AWS::CloudWatch::Alarm":
            # A metric-math alarm bills per metric it reads; a plain alarm is one metric.
            counts["alarm_metric_month"] += sum(1 for m in props.get("Metrics", []) if "MetricStat" in m) or 1
        elif kind == "AWS::Budgets::Budget":
            counts["budget_day"] += 1
        elif kind == "AWS::SSM::Parameter" and props.get("Tier") == "Advanced":
            counts["ssm_advanced_parameter_month"] += 1
        elif kind == "AWS::StepFunctions::StateMachine":
            for stage, instance_type, count in _endpoint_variants(props.get("DefinitionString")):
                hourly = table["endpoint_instance_hour"].instance_types.get(instance_type)
                if hourly is None:
                    continue  # an instance type the table does not price: listed by the flow's own docs
                yield line(f"{stage} endpoint: {count} x {instance_type}", "endpoint_instance_hour", count, True, hourly * table.hours_per_month)
    labels = {
        "interface_endpoint_az_hour": "interface endpoint-AZs",
        "nat_gateway_hour": "NAT gateways",
        "kms_key_month": "KMS customer managed keys",
        "mlflow_server_small_hour": "MLflow tracking server (Small)",
        "mlflow_server_medium_hour": "MLflow tracking server (Medium)",
        "mlflow_server_large_hour": "MLflow tracking server (Large)",
        "dashboard_month": "CloudWatch dashboards",
        "alarm_metric_month": "CloudWatch alarm metrics",
        "budget_day": "AWS Budgets",
        "ssm_advanced_parameter_month": "advanced SSM parameters",
    }
    for key in labels:
        if counts[key]:
            yield line(labels[key], key, counts[key])


def _subnet_count(props: Mapping[str, Any]) -> int:
    subnets = props.get("SubnetIds")
    return len(subnets) if isinstance(subnets, list) else 1


def _definition_text(definition: Any) -> str:
    """A state machine definition as text, CloudFormation tokens replaced by a placeholder string."""
    if isinstance(definition, str):
        return definition
    if isinstance(definition, dict) and "Fn::Join" in definition:
        separator, parts = definition["Fn::Join"]
        return str(separator).join(part if isinstance(part, str) else "TOKEN" for part in parts)
    return ""


def _endpoint_variants(definition: Any) -> Iterator[tuple[str, str, int]]:
    """(stage, instance type, minimum count) of every instance-backed endpoint config the flow creates."""
    try:
        parsed = json.loads(_definition_text(definition))
    except json.JSONDecodeError:
        return
    for name, state in _states(parsed):
        parameters = state.get("Parameters") or state.get("Arguments") or {}
        for variant in parameters.get("ProductionVariants", []) if isinstance(parameters, dict) else []:
            if "InstanceType" in variant:
                stage = match.group(1).lower() if (match := re.search(r"(Staging|Production)", name)) else name
                yield stage, str(variant["InstanceType"]), int(variant.get("InitialInstanceCount", 1))


def _states(definition: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for name, state in definition.get("States", {}).items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from _states(branch)
        for key in ("Iterator", "ItemProcessor"):
            if isinstance(state.get(key), dict):
                yield from _states(state[key])
