"""Composition root: the only place that reads files and context, then wires the tiers together."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import cast

import aws_cdk as cdk

from mlops_kit.config import KitConfig, load_config, projects_dir_of
from mlops_kit.errors import KitError
from mlops_kit.nag import apply_checks
from mlops_kit.platform import add_platform, add_project
from mlops_kit.stacks.delivery import add_delivery


def environment(config: KitConfig) -> cdk.Environment | None:
    if config.environment.is_agnostic:
        return None
    return cdk.Environment(account=config.environment.account, region=config.environment.region)


def build_app(
    config: KitConfig,
    *,
    app: cdk.App | None = None,
    outdir: str | None = None,
    projects_dir: Path | None = None,
    project: str | None = None,
) -> cdk.App:
    """Build every stack of the platform described by ``config`` into ``app``, or only ``project``'s stack.

    ``projects_dir`` holds each project's seed code (``projects/<name>/steps``). With
    ``project`` the app holds ``Project-<project>`` alone, as a project team deploys it
    (`cdk deploy Project-<name>` at App level, with the config's environment), under the same
    cdk-nag packs; with delivery enabled the pipeline's own Synth step still builds every stage.
    """
    app = app or cdk.App(outdir=outdir)
    if project is not None:
        add_project(app, config, project, env=environment(config), projects_dir=projects_dir)
    elif config.delivery.enabled:
        # The pipeline is the only way in: the platform's stacks live in its stages (one per
        # environment), not at App level, so `cdk deploy --all` cannot bypass it.
        add_delivery(app, config, projects_dir=projects_dir)
    else:
        add_platform(app, config, env=environment(config), projects_dir=projects_dir)
    apply_checks(app)
    return app


def main() -> int:
    """Entry point of ``app.py`` (the CDK CLI runs it): config errors exit 2 without a traceback.

    The CDK CLI's synth (``mlops-kit synth``, the delivery pipeline's Synth step) also runs
    Control Tower's proactive controls over every template (``mlops_kit.guard``).
    """
    from mlops_kit.guard import control_tower_validator

    app = cdk.App()
    # The plugin implements the beta1 interface, which add_plugins accepts at run time (same
    # members; the jsii types differ only by name). The AppProps route prints a deprecation.
    cdk.Validations.of(app).add_plugins(cast("cdk.IPolicyValidationPlugin", control_tower_validator()))
    config_path = Path(str(app.node.try_get_context("config") or "kit.yaml"))
    # `-c project=NAME`: a project-scoped synth reads kit.yaml and that one project file only.
    scoped = app.node.try_get_context("project")
    project = str(scoped) if scoped else None
    try:
        config = load_config(config_path, project=project)
        build_app(config, app=app, projects_dir=projects_dir_of(config_path), project=project)
    except KitError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    app.synth()
    return 0
