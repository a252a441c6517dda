"""The platform's stacks, built into an App or into a CDK Pipelines Stage alike."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from mlops_kit.config import KitConfig, ProjectConfig
from mlops_kit.constructs.identity import boundary_name
from mlops_kit.constructs.project_insight import TIER_TAG
from mlops_kit.stacks.backbone import BackboneStack
from mlops_kit.stacks.project import ProjectStack
from mlops_kit.stacks.shared_assets import SharedAssetsStack

# Changing tags on a Studio domain or user profile forces their replacement, which fails
# while users exist: they get their tags once, at creation, and never from the app-wide tags.
# Feature groups and Studio lifecycle configs take tags only at creation, too (create-only).
TAG_IMMUTABLE_TYPES = [
    "AWS::SageMaker::Domain",
    "AWS::SageMaker::UserProfile",
    "AWS::SageMaker::FeatureGroup",
    "AWS::SageMaker::StudioLifecycleConfig",
]


@dataclass
class Platform:
    """The stacks of one deployment of the platform (one account and region)."""

    backbone: BackboneStack
    shared_assets: SharedAssetsStack
    projects: dict[str, cdk.Stack] = field(default_factory=dict)

    @property
    def stacks(self) -> list[cdk.Stack]:
        return [self.backbone, self.shared_assets, *self.projects.values()]


def add_platform(
    scope: Construct,
    config: KitConfig,
    *,
    env: cdk.Environment | None = None,
    termination_protection: bool = False,
    projects_dir: Path | None = None,
) -> Platform:
    """Add Backbone, SharedAssets and one stack per project to ``scope``.

    ``termination_protection`` is set on the stacks that hold data (all of them hold keys,
    buckets or registries) for staging and production deployments. ``projects_dir`` is
    where each project's seed code lives (``<dir>/<name>/steps``); without it, projects use
    the template's step code.
    """
    prefix = config.prefix
    backbone = BackboneStack(
        scope,
        "Backbone",
        config=config,
        env=env,
        stack_name=f"{prefix}-backbone",
        description=f"{prefix} MLOps platform, tier 1: network, keys, identity, audit",
        termination_protection=termination_protection,
    )
    shared = SharedAssetsStack(
        scope,
        "SharedAssets",
        config=config,
        backbone=backbone,
        env=env,
        stack_name=f"{prefix}-shared-assets",
        description=f"{prefix} MLOps platform, tier 2: Studio, Feature Store, Model Registry, experiments, shared data",
        termination_protection=termination_protection,
    )
    platform = Platform(backbone=backbone, shared_assets=shared)
    for project in config.projects:
        # No stack dependency on the platform: the project reads tiers 1 and 2 through SSM
        # parameters only, so `cdk deploy Project-<name>` deploys that one stack and a project
        # team never redeploys the platform. A missing platform fails that deploy before any
        # change, naming the parameter: "Unable to fetch parameters [/<prefix>/platform/...]
        # from parameter store for this account" (CreateChangeSet ValidationError).
        platform.projects[project.name] = _project_stack(
            scope, config, project, env=env, termination_protection=termination_protection, projects_dir=projects_dir
        )
    # Tier tags let the platform budget count Backbone and SharedAssets spend apart from projects'.
    tiers: tuple[tuple[cdk.Stack, str], ...] = ((backbone, "1"), (shared, "2"))
    for tier_stack, tier in tiers:
        cdk.Tags.of(tier_stack).add(TIER_TAG, tier, exclude_resource_types=TAG_IMMUTABLE_TYPES)
    for dependent in platform.stacks[1:]:
        apply_boundary(dependent, prefix)
    tag(scope, config)
    return platform


def _project_stack(
    scope: Construct,
    config: KitConfig,
    project: ProjectConfig,
    *,
    env: cdk.Environment | None,
    termination_protection: bool,
    projects_dir: Path | None,
) -> ProjectStack:
    prefix = config.prefix
    return ProjectStack(
        scope,
        f"Project-{project.name}",
        config=config,
        project=project,
        seed_folder=projects_dir / project.name if projects_dir else None,
        env=env,
        stack_name=f"{prefix}-project-{project.name}",
        description=f"{prefix} MLOps platform, tier 3: AI project {project.name} ({project.template})",
        termination_protection=termination_protection,
    )


def add_project(
    scope: Construct, config: KitConfig, name: str, *, env: cdk.Environment | None = None, projects_dir: Path | None = None
) -> ProjectStack:
    """Add only the stack of project ``name`` (from ``config.projects``) to ``scope``: a project-scoped synth.

    The template is the one ``add_platform`` writes for that project (same construct path,
    boundary and tags): a project stack reads tiers 1 and 2 through SSM parameters only, so
    nothing else has to be built, and the cost does not grow with the number of projects.
    """
    matches = [project for project in config.projects if project.name == name]
    if not matches:
        raise ValueError(f"project {name!r} is not in the loaded configuration (load it with load_config(..., project=...))")
    stack = _project_stack(scope, config, matches[0], env=env, termination_protection=False, projects_dir=projects_dir)
    apply_boundary(stack, config.prefix)
    tag(scope, config)
    return stack


def apply_boundary(stack: cdk.Stack, prefix: str) -> None:
    """The backbone's permission boundary on every role of ``stack`` (found by its fixed name)."""
    boundary = iam.ManagedPolicy.from_managed_policy_name(stack, "KitPermissionBoundary", boundary_name(prefix))
    iam.PermissionsBoundary.of(stack).apply(boundary)


def tag(scope: Construct, config: KitConfig) -> None:
    """The platform's tags on every taggable resource below ``scope``."""
    for key, value in {"kit:platform": config.prefix, **config.tags}.items():
        cdk.Tags.of(scope).add(key, value, exclude_resource_types=TAG_IMMUTABLE_TYPES)
