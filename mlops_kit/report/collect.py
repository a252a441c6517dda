"""What the report shows, read from a synthesized cloud assembly only (no config, no AWS, no browser).

- Stacks and their main resources by type come from the templates; the tier of a stack from its
  name (``Backbone``/``Delivery*`` 1, ``SharedAssets`` 2, ``Project-*`` 3), as ``mlops_kit.app``
  names them.
- The persona table is ``constructs.identity.persona_grants``, the source the README's table is
  generated from; a persona counts as built when a role of its fixed name is in a template.
- cdk-nag per pack from the ``<Pack>--<stack id>-NagReport.csv`` files cdk-nag writes; cfn-lint
  through ``checks.summarize`` (content-cached); the idle cost through ``costs.estimate``.
- Pipeline steps are parsed from the pipeline definitions in the templates (``diff.embedded_document``
  joins the ``Fn::Join`` around deploy-time references), Condition branches included.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_kit.checks import AssemblySummary, summarize
from mlops_kit.constructs.identity import Grant, persona_grants
from mlops_kit.costs import Estimate, estimate
from mlops_kit.diff import embedded_document
from mlops_kit.local.assembly import CloudAssembly, load_assembly

TIER_NAMES = {1: "Backbone", 2: "Shared assets", 3: "AI projects"}
TIER_OWNERS = {
    1: "Cloud & Security, DevOps",
    2: "ML engineers, MLOps",
    3: "data scientists, full-stack developers, project managers",
}
# The resource types a reader looks for, in the order a box lists them, with their plain names.
MAIN_TYPES: dict[str, tuple[str, str]] = {
    "AWS::EC2::VPC": ("VPC", "VPCs"),
    "AWS::EC2::Subnet": ("subnet", "subnets"),
    "AWS::EC2::VPCEndpoint": ("VPC endpoint", "VPC endpoints"),
    "AWS::EC2::NatGateway": ("NAT gateway", "NAT gateways"),
    "AWS::KMS::Key": ("KMS key", "KMS keys"),
    "AWS::IAM::Role": ("IAM role", "IAM roles"),
    "AWS::S3::Bucket": ("S3 bucket", "S3 buckets"),
    "AWS::CloudTrail::Trail": ("CloudTrail trail", "CloudTrail trails"),
    "AWS::EC2::FlowLog": ("VPC flow log", "VPC flow logs"),
    "AWS::CodePipeline::Pipeline": ("CodePipeline pipeline", "CodePipeline pipelines"),
    "AWS::CodeBuild::Project": ("CodeBuild project", "CodeBuild projects"),
    "AWS::SageMaker::Domain": ("Studio domain", "Studio domains"),
    "AWS::SageMaker::UserProfile": ("Studio user profile", "Studio user profiles"),
    "AWS::SageMaker::FeatureGroup": ("feature group", "feature groups"),
    "AWS::SageMaker::MlflowApp": ("MLflow app (serverless)", "MLflow apps (serverless)"),
    "AWS::SageMaker::MlflowTrackingServer": ("MLflow tracking server", "MLflow tracking servers"),
    "AWS::Glue::Database": ("Glue database", "Glue databases"),
    "AWS::Events::EventBus": ("event bus", "event buses"),
    "AWS::SageMaker::Pipeline": ("SageMaker pipeline", "SageMaker pipelines"),
    "AWS::SageMaker::ModelPackageGroup": ("model package group", "model package groups"),
    "AWS::StepFunctions::StateMachine": ("deploy flow (Step Functions)", "deploy flows (Step Functions)"),
    "AWS::Events::Rule": ("event rule", "event rules"),
    "AWS::SNS::Topic": ("SNS topic", "SNS topics"),
    "AWS::CloudWatch::Alarm": ("alarm", "alarms"),
    "AWS::CloudWatch::Dashboard": ("dashboard", "dashboards"),
    "AWS::Budgets::Budget": ("budget", "budgets"),
    "AWS::Lambda::Function": ("Lambda function", "Lambda functions"),
    "AWS::Logs::LogGroup": ("log group", "log groups"),
    "AWS::SSM::Parameter": ("SSM parameter", "SSM parameters"),
}
_STEP_REFERENCE = re.compile(r"Steps\.([A-Za-z0-9_-]+)\.")


def tier_of(stack_name: str) -> int:
    """1, 2 or 3 from the names ``mlops_kit.app`` gives; 0 for anything else."""
    name = stack_name.rsplit("/", 1)[-1]
    if name.startswith(("Backbone", "Delivery")):
        return 1
    if name.startswith("SharedAssets"):
        return 2
    if name.startswith("Project-"):
        return 3
    return 0


@dataclass(frozen=True)
class StackView:
    name: str
    tier: int
    description: str
    main: tuple[tuple[str, int], ...]  # (plain name, count) in MAIN_TYPES order
    total: int

    @property
    def others(self) -> int:
        return self.total - sum(count for _, count in self.main)


@dataclass(frozen=True)
class PersonaView:
    persona: str
    role_name: str
    built: bool
    grants: tuple[Grant, ...]

    def purposes(self, tier: int) -> list[str]:
        return [grant.purpose for grant in self.grants if grant.tier == tier]


@dataclass(frozen=True)
class PipelineStep:
    name: str
    kind: str
    after: tuple[str, ...]  # steps it depends on (DependsOn or a Steps.<name> reference)
    branch: str = ""  # "if CheckQuality" / "else CheckQuality" for a Condition's branches


@dataclass(frozen=True)
class PipelineView:
    name: str
    parameters: tuple[tuple[str, str], ...]
    steps: tuple[PipelineStep, ...]


@dataclass(frozen=True)
class ProjectView:
    stack: str
    description: str
    pipelines: tuple[PipelineView, ...]
    model_package_groups: tuple[str, ...]
    flow_states: tuple[str, ...]  # the deploy flow's states in definition order


@dataclass
class Report:
    assembly: Path
    prefix: str
    stacks: list[StackView]
    personas: list[PersonaView]
    nag: dict[str, dict[str, Counter[str]]]  # pack -> stack -> Compliance -> count
    checks: AssemblySummary
    cost: Estimate
    projects: list[ProjectView] = field(default_factory=list)


def _stack_view(name: str, template: dict[str, Any]) -> StackView:
    types = Counter(str(r.get("Type")) for r in (template.get("Resources") or {}).values())
    main = tuple((one if types[kind] == 1 else many, types[kind]) for kind, (one, many) in MAIN_TYPES.items() if types[kind])
    return StackView(
        name=name, tier=tier_of(name), description=str(template.get("Description", "")), main=main, total=sum(types.values())
    )


def _role_names(templates: list[dict[str, Any]]) -> set[str]:
    return {
        r["Properties"]["RoleName"]
        for t in templates
        for r in (t.get("Resources") or {}).values()
        if r.get("Type") == "AWS::IAM::Role" and isinstance((r.get("Properties") or {}).get("RoleName"), str)
    }


def _prefix(role_names: set[str]) -> str:
    """The kit prefix, read off a persona role's fixed name (``<prefix>-data-scientist``)."""
    for persona in persona_grants("p"):
        suffix = "-" + persona.replace("_", "-")
        for role in sorted(role_names):
            if role.endswith(suffix):
                return role[: -len(suffix)]
    return "<prefix>"


def nag_by_pack(assembly: Path, stack_names: list[str]) -> dict[str, dict[str, Counter[str]]]:
    """cdk-nag's findings per pack and stack, from every ``*-NagReport.csv`` below the assembly."""
    found: dict[str, dict[str, Counter[str]]] = {}
    by_length = sorted(stack_names, key=len, reverse=True)  # a stage's "Stage/Backbone" before "Backbone"
    for report in sorted(assembly.rglob("*-NagReport.csv")):
        pack = report.name.split("--", 1)[0]
        with report.open(newline="") as handle:
            for row in csv.DictReader(handle):
                resource = row.get("Resource ID", "")
                stack = next((s for s in by_length if resource.startswith(f"{s}/")), resource.split("/", 1)[0])
                found.setdefault(pack, {}).setdefault(stack, Counter())[row.get("Compliance", "")] += 1
    return found


def _steps(steps: list[dict[str, Any]], branch: str = "") -> list[PipelineStep]:
    out: list[PipelineStep] = []
    for step in steps:
        name = str(step.get("Name"))
        arguments = dict(step.get("Arguments") or {})  # a copy: the branches are popped off it
        nested = {key: arguments.pop(key, []) for key in ("IfSteps", "ElseSteps")} if step.get("Type") == "Condition" else {}
        referenced = set(_STEP_REFERENCE.findall(repr(arguments))) | set(step.get("DependsOn") or [])
        out.append(PipelineStep(name=name, kind=str(step.get("Type")), after=tuple(sorted(referenced - {name})), branch=branch))
        for key, label in (("IfSteps", "if"), ("ElseSteps", "else")):
            out += _steps(list(nested.get(key) or []), f"{label} {name}")
    return out


def _project_view(name: str, template: dict[str, Any], assembly: CloudAssembly) -> ProjectView:
    pipelines: list[PipelineView] = []
    groups: list[str] = []
    states: list[str] = []
    for resource in (template.get("Resources") or {}).values():
        kind, props = resource.get("Type"), resource.get("Properties") or {}
        if kind == "AWS::SageMaker::Pipeline":
            definition = embedded_document(kind, props, assembly) or {}
            parameters = tuple((str(p.get("Name")), str(p.get("DefaultValue", ""))) for p in definition.get("Parameters") or [])
            steps = tuple(_steps(list(definition.get("Steps") or [])))
            pipelines.append(PipelineView(name=str(props.get("PipelineName", "")), parameters=parameters, steps=steps))
        elif kind == "AWS::SageMaker::ModelPackageGroup":
            groups.append(str(props.get("ModelPackageGroupName", "")))
        elif kind == "AWS::StepFunctions::StateMachine":
            definition = embedded_document(kind, props, assembly) or {}
            states += list(definition.get("States") or {})
    return ProjectView(
        stack=name, description=str(template.get("Description", "")), pipelines=tuple(pipelines),
        model_package_groups=tuple(groups), flow_states=tuple(states),
    )


def collect(assembly: Path, *, use_cache: bool = True) -> Report:
    """Everything the report shows; raises ``KitError`` when the folder holds no cloud assembly."""
    cloud = load_assembly(assembly)
    templates = {stack.artifact_id: stack.template() for stack in cloud.stacks}  # the names `cdk deploy` takes
    checks = summarize(assembly, use_cache=use_cache)
    cost = estimate(assembly)
    roles = _role_names(list(templates.values()))
    prefix = _prefix(roles)
    personas = [
        PersonaView(persona=persona, role_name=f"{prefix}-{persona.replace('_', '-')}", built=f"{prefix}-{persona.replace('_', '-')}" in roles, grants=grants)
        for persona, grants in persona_grants(prefix).items()
    ]
    return Report(
        assembly=assembly,
        prefix=prefix,
        stacks=[_stack_view(name, template) for name, template in templates.items()],
        personas=personas,
        nag=nag_by_pack(assembly, [s.name for s in checks.stacks]),
        checks=checks,
        cost=cost,
        projects=[_project_view(name, t, cloud) for name, t in templates.items() if tier_of(name) == 3],
    )
