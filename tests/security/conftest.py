"""One platform with two projects, synthesized once for the security tests.

``credit-risk`` is the shipped project (default approvers: its team role and the MLOps
engineers); ``fraud`` names its own approvers and notification addresses.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from mlops_kit.bootstrap import create_project
from mlops_kit.config import KitConfig, load_config
from tests.conftest import ROOT, synth_app

FRAUD_APPROVER = "arn:aws:iam::111111111111:role/FraudRiskOfficer"
FRAUD_EMAIL = "fraud-team@example.com"


@pytest.fixture(scope="session")
def security_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("security-platform")
    (folder / "kit.yaml").write_text((ROOT / "kit.yaml").read_text())
    shutil.copytree(ROOT / "projects", folder / "projects")
    kit = load_config(folder / "kit.yaml")
    create_project(projects_dir=folder / "projects", kit=kit, name="fraud", template="tabular-training", owners=[])
    fraud = folder / "projects" / "fraud.yaml"
    fraud.write_text(
        fraud.read_text()
        + f"\napprovers: [team, project_manager, {FRAUD_APPROVER}]\nnotify_emails: [{FRAUD_EMAIL}]\n"
    )
    return folder


@pytest.fixture(scope="session")
def security_config(security_dir: Path) -> KitConfig:
    return load_config(security_dir / "kit.yaml")


@pytest.fixture(scope="session")
def security_app(security_config: KitConfig, security_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> cdk.App:
    return synth_app(security_config, tmp_path_factory.mktemp("security-out"), projects_dir=security_dir / "projects")


@pytest.fixture(scope="session")
def templates(security_app: cdk.App) -> dict[str, dict[str, Any]]:
    """Every stack's synthesized template, by construct ID (Backbone, SharedAssets, Project-<name>)."""
    outdir = Path(security_app.outdir)
    found: dict[str, dict[str, Any]] = {}
    for child in security_app.node.children:
        if isinstance(child, cdk.Stack):
            found[child.node.id] = json.loads((outdir / child.template_file).read_text())
    return found
