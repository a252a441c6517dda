"""Every documented config synthesizes with the real CDK CLI and no AWS credentials at all.

No AWS variable reaches the CDK CLI (not even the suite's fake keys) and HOME is empty, so any
context lookup (availability zones, ...) would fail the synth. Project stacks come out with no
stack dependency on the platform: ``cdk deploy Project-NAME`` deploys that stack alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import ROOT, THREE_ACCOUNTS, offline_env


def manifests(assembly: Path) -> dict[str, dict[str, Any]]:
    """Every stack artifact of the assembly and of its nested (pipeline stage) assemblies."""
    found: dict[str, dict[str, Any]] = {}
    for manifest_file in assembly.rglob("manifest.json"):
        manifest = json.loads(manifest_file.read_text())
        assert not manifest.get("missing"), f"{manifest_file}: context lookups needed: {manifest['missing']}"
        for artifact_id, artifact in manifest["artifacts"].items():
            if artifact["type"] == "aws:cloudformation:stack":
                found[f"{manifest_file.parent.name}/{artifact_id}"] = {**artifact, "dir": manifest_file.parent}
    return found


def assert_projects_stand_alone(stacks: dict[str, dict[str, Any]]) -> None:
    projects = {key: artifact for key, artifact in stacks.items() if key.split("/")[-1].startswith("Project-")}
    assert projects, sorted(stacks)
    for key, artifact in projects.items():
        own_assets = f"{key.split('/')[-1]}.assets"  # an asset manifest is not a stack
        assert artifact.get("dependencies", []) == [own_assets], (key, artifact.get("dependencies"))


def subnet_zones(template_file: Path) -> list[str]:
    template = json.loads(template_file.read_text())
    return sorted(r["Properties"]["AvailabilityZone"] for r in template["Resources"].values() if r["Type"] == "AWS::EC2::Subnet")


def test_three_accounts_synthesizes_without_credentials(three_accounts: Path) -> None:
    stacks = manifests(three_accounts)
    backbones = [a["dir"] / a["properties"]["templateFile"] for k, a in stacks.items() if "Backbone" in k]
    assert len(backbones) == 3
    for template in backbones:
        assert subnet_zones(template) == ["eu-west-1a", "eu-west-1b"]


def test_committed_context_file_caches_nothing(three_accounts: Path) -> None:
    """cdk.context.json is committed (CDK's advice); after a synth it still holds no lookup."""
    assert json.loads((ROOT / "cdk.context.json").read_text()) == {}


def test_three_accounts_projects_read_the_platform_only_through_ssm(three_accounts: Path) -> None:
    """In a pipeline stage a dependency only orders the stage's deploy actions; nothing is imported."""
    projects = [a for k, a in manifests(three_accounts).items() if "Project" in k]
    assert len(projects) == 3
    for artifact in projects:
        body = (artifact["dir"] / artifact["properties"]["templateFile"]).read_text()
        assert "Fn::ImportValue" not in body
        assert "AWS::SSM::Parameter::Value<String>" in body


def test_mlops_kit_synth_runs_cdk_from_the_kit_whatever_the_working_folder(tmp_path: Path) -> None:
    """A pinned config through ``mlops-kit synth -c`` from a subfolder, relative path and all."""
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "mlops_kit", "synth", "-c", "configs/pinned/kit.yaml", "-o", str(out), "--no-checks"],
        cwd=ROOT / "tests", env=offline_env(tmp_path), capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    stacks = manifests(out)
    assert set(stacks) == {"out/Backbone", "out/SharedAssets", "out/Project-credit-risk"}
    assert stacks["out/Backbone"]["environment"] == "aws://123456789012/ap-northeast-1"
    assert subnet_zones(out / "Backbone.template.json") == ["ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"]
    assert_projects_stand_alone(stacks)


def test_validate_from_another_folder_counts_the_kits_projects(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mlops_kit", "validate", "-c", str(THREE_ACCOUNTS)],
        cwd=tmp_path, env=offline_env(tmp_path), capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "1 project(s)" in result.stdout


def test_fails_if_no_cdk_json_can_be_found(tmp_path: Path) -> None:
    config = tmp_path / "kit.yaml"
    config.write_text(THREE_ACCOUNTS.read_text())
    result = subprocess.run(
        [sys.executable, "-m", "mlops_kit", "synth", "-c", str(config)],
        cwd=tmp_path, env=offline_env(tmp_path), capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "no cdk.json above it" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
