"""The shipped platform as a whole: lint-clean, nag-clean, encrypted, retained, deterministic."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest

from mlops_kit.checks import lint, stack_templates
from mlops_kit.config import KitConfig
from tests.conftest import nag_problems, synth_app

# Data-bearing resource types that must survive a stack deletion.
RETAINED_TYPES = {
    "AWS::S3::Bucket", "AWS::KMS::Key", "AWS::Logs::LogGroup", "AWS::SageMaker::Domain",
    "AWS::SageMaker::FeatureGroup", "AWS::SageMaker::ModelPackageGroup", "AWS::ECR::Repository",
    "AWS::EFS::FileSystem",
}


def templates(app: cdk.App) -> dict[str, dict[str, object]]:
    outdir = Path(app.outdir)
    return {name: json.loads(path.read_text()) for name, path in stack_templates(outdir).items()}


def resources(app: cdk.App) -> list[tuple[str, str, dict[str, object]]]:
    found = []
    for stack, template in templates(app).items():
        for logical_id, resource in template.get("Resources", {}).items():  # type: ignore[union-attr]
            found.append((stack, logical_id, resource))
    return found


def test_the_platform_has_all_three_tiers(default_app: cdk.App) -> None:
    assert set(templates(default_app)) == {"Backbone", "SharedAssets", "Project-credit-risk"}


def test_every_stack_is_nag_clean(default_app: cdk.App) -> None:
    for stack in default_app.node.children:
        if isinstance(stack, cdk.Stack):
            assert nag_problems(stack) == [], stack.node.id


def test_cfn_lint_finds_no_error_in_any_template(default_app: cdk.App) -> None:
    for name, path in stack_templates(Path(default_app.outdir)).items():
        errors, _warnings = lint(path)
        assert errors == [], (name, errors)


def test_no_role_has_an_aws_managed_full_access_policy(default_app: cdk.App) -> None:
    for stack, logical_id, resource in resources(default_app):
        if resource["Type"] in ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"):
            arns = json.dumps(resource["Properties"].get("ManagedPolicyArns", []))  # type: ignore[union-attr]
            assert "FullAccess" not in arns, (stack, logical_id, arns)


def test_data_bearing_resources_are_retained(default_app: cdk.App) -> None:
    for stack, logical_id, resource in resources(default_app):
        if resource["Type"] in RETAINED_TYPES:
            assert resource.get("DeletionPolicy") == "Retain", (stack, logical_id, resource["Type"])
            assert resource.get("UpdateReplacePolicy", "Retain") == "Retain", (stack, logical_id)


def test_every_bucket_is_encrypted_with_a_kit_key(default_app: cdk.App) -> None:
    for stack, logical_id, resource in resources(default_app):
        if resource["Type"] != "AWS::S3::Bucket":
            continue
        rule = resource["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]  # type: ignore[index]
        if "AccessLogsBucket" in logical_id:
            # S3 server access logs can only be delivered to an SSE-S3 bucket.
            assert rule["SSEAlgorithm"] == "AES256"
            continue
        assert rule["SSEAlgorithm"] == "aws:kms", (stack, logical_id)
        assert "KMSMasterKeyID" in rule, (stack, logical_id)


def test_every_key_rotates(default_app: cdk.App) -> None:
    keys = [r for _s, _l, r in resources(default_app) if r["Type"] == "AWS::KMS::Key"]
    assert keys
    assert all(key["Properties"]["EnableKeyRotation"] is True for key in keys)  # type: ignore[index]


def test_two_synths_give_identical_templates(
    default_app: cdk.App, default_config: KitConfig, tmp_path_factory: pytest.TempPathFactory
) -> None:
    again = synth_app(default_config, tmp_path_factory.mktemp("second-synth"))
    assert templates(again) == templates(default_app)
