"""Composition root: the only place that reads files and context, then wires the tiers together."""

from __future__ import annotations

import sys
from pathlib import Path

import aws_cdk as cdk

from mlops_kit.config import KitConfig, load_config
from mlops_kit.errors import KitError
from mlops_kit.nag import apply_checks
from mlops_kit.stacks.backbone import BackboneStack

# Changing tags on a Studio domain or user profile forces their replacement, which fails
# while users exist: they get their tags once, at creation, and never from the app-wide tags.
TAG_IMMUTABLE_TYPES = ["AWS::SageMaker::Domain", "AWS::SageMaker::UserProfile"]


def build_app(config: KitConfig, *, app: cdk.App | None = None, outdir: str | None = None) -> cdk.App:
    """Build every stack of the platform described by ``config`` into ``app``."""
    app = app or cdk.App(outdir=outdir)
    env = (
        None
        if config.environment.is_agnostic
        else cdk.Environment(account=config.environment.account, region=config.environment.region)
    )
    prefix = config.prefix
    BackboneStack(
        app,
        "Backbone",
        config=config,
        env=env,
        stack_name=f"{prefix}-backbone",
        description=f"{prefix} MLOps platform, tier 1: network, keys, identity, audit",
        termination_protection=False,
    )
    tags = {"kit:platform": prefix, **config.tags}
    for key, value in tags.items():
        cdk.Tags.of(app).add(key, value, exclude_resource_types=TAG_IMMUTABLE_TYPES)
    apply_checks(app)
    return app


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``app.py`` (the CDK CLI runs it): config errors exit 2 without a traceback."""
    app = cdk.App()
    config_path = Path(str(app.node.try_get_context("config") or "kit.yaml"))
    try:
        config = load_config(config_path)
        build_app(config, app=app)
    except KitError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    app.synth()
    return 0
