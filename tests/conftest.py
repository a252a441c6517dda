"""Shared fixtures: fake AWS credentials before anything creates a client, and synthesized apps."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# No test may reach real AWS: fake credentials and a fixed region before any boto3 client exists.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
    }
)
os.environ.pop("AWS_PROFILE", None)

import aws_cdk as cdk
from aws_cdk.assertions import Annotations, Match

from mlops_kit.app import build_app
from mlops_kit.config import KitConfig, load_config
from mlops_kit.config.loader import parse_yaml
from mlops_kit.config.validation import validate_document

ROOT = Path(__file__).resolve().parents[1]
THREE_ACCOUNTS = ROOT / "tests" / "configs" / "three-accounts" / "kit.yaml"


def feature_flags() -> dict[str, object]:
    """The same feature flags the CDK CLI passes from cdk.json, so tests see the deployed templates."""
    context: dict[str, object] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return context


def config_from_yaml(text: str, name: str = "kit.yaml") -> KitConfig:
    return validate_document(KitConfig, parse_yaml(text, name))


def synth_app(config: KitConfig, outdir: Path, projects_dir: Path | None = ROOT / "projects") -> cdk.App:
    app = cdk.App(context=feature_flags(), outdir=str(outdir))
    build_app(config, app=app, projects_dir=projects_dir)
    app.synth()
    return app


def nag_problems(stack: cdk.Stack) -> list[str]:
    """Unsuppressed cdk-nag errors and warnings (including rules that could not run)."""
    annotations = Annotations.from_stack(stack)
    found = [
        *annotations.find_error("*", Match.string_like_regexp(r"(AwsSolutions|NIST|CdkNag|Kit)")),
        *annotations.find_warning("*", Match.string_like_regexp(r"(AwsSolutions|NIST|CdkNag|Kit)")),
    ]
    return [f"{message.id}: {str(message.entry.data)[:200]}" for message in found]


@pytest.fixture(scope="session")
def default_config() -> KitConfig:
    return load_config(ROOT / "kit.yaml")


@pytest.fixture(scope="session")
def default_app(default_config: KitConfig, tmp_path_factory: pytest.TempPathFactory) -> cdk.App:
    """The shipped platform, synthesized once for the whole session."""
    return synth_app(default_config, tmp_path_factory.mktemp("default-app"))


@pytest.fixture(scope="session")
def stack_of(default_app: cdk.App) -> Callable[[str], cdk.Stack]:
    def find(construct_id: str) -> cdk.Stack:
        child = default_app.node.find_child(construct_id)
        assert isinstance(child, cdk.Stack)
        return child

    return find


def joined(value: Any, reference: str) -> str:
    """Text that CloudFormation joins with deploy-time references (``Fn::Join``), read with ``reference`` in their place."""
    if isinstance(value, str):
        return value
    return "".join(part if isinstance(part, str) else reference for part in value["Fn::Join"][1])


def offline_env(home: Path) -> dict[str, str]:
    """No AWS or CDK variable (not even the suite's fake keys) and an empty HOME: any lookup fails."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_") and not name.startswith("CDK_")}
    env.update({"HOME": str(home), "PYTHONPATH": str(ROOT), "CDK_DISABLE_CLI_TELEMETRY": "true",
                "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"})
    return env


@pytest.fixture(scope="session")
def three_accounts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``npx cdk synth -c config=tests/configs/three-accounts/kit.yaml``, as the issue's user typed it.

    Once per session: the CLI's synth also runs the Control Tower guard rules (mlops_kit.guard),
    and tests/security scans the same assembly with checkov.
    """
    out = tmp_path_factory.mktemp("three-accounts")
    result = subprocess.run(
        [str(ROOT / "node_modules" / ".bin" / "cdk"), "synth", "--quiet", "-c", "config=tests/configs/three-accounts/kit.yaml", "-o", str(out / "cdk.out")],
        cwd=ROOT, env=offline_env(out), capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Need to perform AWS calls" not in result.stderr
    return out / "cdk.out"
