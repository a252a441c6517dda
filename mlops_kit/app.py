"""Composition root: the only place that reads files and context, then wires the tiers together."""

from __future__ import annotations

import sys
from pathlib import Path

import aws_cdk as cdk

from mlops_kit.config import KitConfig, load_config
from mlops_kit.errors import KitError
from mlops_kit.nag import apply_checks
from mlops_kit.platform import add_platform


def environment(config: KitConfig) -> cdk.Environment | None:
    if config.environment.is_agnostic:
        return None
    return cdk.Environment(account=config.environment.account, region=config.environment.region)


def build_app(config: KitConfig, *, app: cdk.App | None = None, outdir: str | None = None) -> cdk.App:
    """Build every stack of the platform described by ``config`` into ``app``."""
    app = app or cdk.App(outdir=outdir)
    add_platform(app, config, env=environment(config))
    apply_checks(app)
    return app


def main() -> int:
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
