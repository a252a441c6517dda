"""AWS Control Tower's proactive controls (cfn-guard, cdklabs' plugin) over the shipped platform.

The CLI's synth runs them on every template (``mlops_kit.app.main``), so the three-account
CLI synth of ``tests/conftest.py`` fails on any violation; here the plugin is called on the
session's default platform, on templates made to fail, and on the rules the kit disables.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import aws_cdk as cdk
import jsii
import pytest
from aws_cdk import aws_s3 as s3
from cdklabs import cdk_validator_cfnguard
from cdklabs.cdk_validator_cfnguard import CfnGuardValidator

from mlops_kit import app as kit_app
from mlops_kit.guard import DISABLED_RULES, control_tower_validator
from tests.conftest import ROOT

# The plugin's own package: the bundled rules, one ``ct-*.guard`` file per control.
BUNDLE = next((Path(cdk_validator_cfnguard.__file__).parent / "_jsii").glob("*.jsii.tgz"))
# Disabled only because the plugin crashes on their results (cdklabs/cdk-validator-cfnguard#178).
CRASHING = {"ct-s3-pr-2", "ct-cloudwatch-pr-3"}


@jsii.implements(cdk.IPolicyValidationContextBeta1)
class Templates:
    """What CDK hands a validation plugin after synth: the templates' paths."""

    def __init__(self, paths: list[Path]) -> None:
        self._paths = [str(path) for path in paths]

    @property
    def template_paths(self) -> list[str]:
        return self._paths


def violations(plugin: CfnGuardValidator, templates: list[Path]) -> dict[str, set[str]]:
    """Rule name -> ``template:logical ID`` of every violating resource."""
    assert templates
    report = plugin.validate(Templates(templates))
    found: dict[str, set[str]] = {}
    for violation in report.violations:
        for resource in violation.violating_resources:
            found.setdefault(violation.rule_name, set()).add(f"{Path(resource.template_path).name}:{resource.resource_logical_id}")
    assert report.success == (not found)
    return found


def stack_templates(assembly: Path) -> list[Path]:
    return sorted(assembly.rglob("*.template.json"))


@pytest.fixture(scope="module")
def rule_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The bundled Control Tower rules by file name (``ct-s3-pr-2``), unpacked from the plugin's package."""
    out = tmp_path_factory.mktemp("guard-rules")
    with tarfile.open(BUNDLE) as bundle:
        members = [m for m in bundle.getmembers() if m.name.startswith("package/rules/") and m.name.endswith(".guard")]
        bundle.extractall(out, members=members, filter="data")
    return {path.stem: path for path in out.rglob("*.guard")}


def test_the_default_platform_passes_every_enabled_control(default_app: cdk.App) -> None:
    assert violations(control_tower_validator(), stack_templates(Path(default_app.outdir))) == {}


def test_the_cli_synth_runs_the_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    """``main`` (what the CDK CLI runs) registers the plugin: a bare bucket makes its synth fail.

    So the three-account CLI synth of ``tests/conftest.py``, which must succeed, passed the controls.
    """
    def bare_bucket(config: object, *, app: cdk.App, projects_dir: object, project: object = None) -> cdk.App:
        s3.CfnBucket(cdk.Stack(app, "Bare"), "Bucket")
        return app

    monkeypatch.setattr(kit_app, "build_app", bare_bucket)
    monkeypatch.setenv("CDK_CONTEXT_JSON", json.dumps({"config": str(ROOT / "kit.yaml")}))
    with pytest.raises(RuntimeError, match="ValidationFailed") as failed:
        kit_app.main()
    assert "cdk-validator-cfnguard::s3_bucket_versioning_enabled_check" in str(failed.value)


def test_the_rules_find_what_they_are_for(tmp_path: Path) -> None:
    """A bare bucket and an unencrypted log group fail: the plugin runs its rules, it is not a no-op."""
    template = tmp_path / "Bare.template.json"
    template.write_text(json.dumps({"Resources": {
        "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {}},
        "Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Version": "2012-10-17", "Statement": []}}},
    }}))
    found = violations(control_tower_validator(), [template])
    assert found["s3_bucket_versioning_enabled_check"] == {"Bare.template.json:Bucket"}
    assert found["kms_create_grant_aws_service_check"] == {"Bare.template.json:Key"}
    # Disabled rules stay quiet, even where they would fail.
    assert "s3_bucket_object_lock_enabled_check" not in found


def test_every_disabled_rule_is_a_bundled_control_with_a_reason(rule_files: dict[str, Path]) -> None:
    assert len(rule_files) > 200
    for rule, reason in DISABLED_RULES.items():
        assert rule in rule_files, f"{rule}: no such rule in {BUNDLE.name}; remove it from DISABLED_RULES"
        assert len(reason) > 80, rule


def test_every_disabled_rule_still_fails_without_its_disable(default_app: cdk.App, rule_files: dict[str, Path]) -> None:
    """A disable that no longer catches anything is stale. The two rules the plugin crashes on are left out."""
    checked = sorted(set(DISABLED_RULES) - CRASHING)
    only_these = CfnGuardValidator(control_tower_rules_enabled=False, rules=[str(rule_files[rule]) for rule in checked])
    found = violations(only_these, stack_templates(Path(default_app.outdir)))
    for rule in checked:
        text = rule_files[rule].read_text()
        assert any(f"rule {name} " in text for name in found), f"{rule} fails nowhere now: enable it again"
