"""The Delivery stack of a config whose environments leave the tooling region, synthesized once.

Tooling and dev in eu-west-1, staging in eu-central-1, production in us-east-1: CodePipeline
needs an artifact store in eu-central-1 and us-east-1, which the kit supplies itself
(``RegionalArtifactsStack``) instead of CDK's support stacks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from mlops_kit.config import KitConfig, load_config
from mlops_kit.constructs.delivery_pipeline import RegionalArtifactsStack
from mlops_kit.stacks.delivery import DeliveryStack
from tests.conftest import ROOT
from tests.stacks.test_delivery import (
    DEV,
    PRODUCTION,
    STAGING,
    TOOLING,
    accounts_in,
    all_templates,
    delivery_stack,
    nag_errors,
    statements,
    synth_recording_findings,
)

TWO_REGIONS = ROOT / "tests" / "configs" / "two-regions" / "kit.yaml"
HOME = "eu-west-1"
REGION_OF = {"Dev": (DEV, HOME), "Staging": (STAGING, "eu-central-1"), "Production": (PRODUCTION, "us-east-1")}
OTHER_REGIONS = {"eu-central-1": STAGING, "us-east-1": PRODUCTION}


def deploy_role(account: str, region: str) -> dict[str, Any]:
    return {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":iam::{account}:role/cdk-hnb659fds-deploy-role-{account}-{region}"]]}


@pytest.fixture(scope="module")
def config() -> KitConfig:
    """The two-region kit.yaml with the shipped example project (projects/credit-risk)."""
    return load_config(TWO_REGIONS, projects_dir=ROOT / "projects")


@pytest.fixture(scope="module")
def outdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("two-regions")


@pytest.fixture(scope="module")
def app(config: KitConfig, outdir: Path) -> cdk.App:
    """Synthesized once; cdk-nag findings are recorded in the assembly, not raised."""
    return synth_recording_findings(config, outdir)


@pytest.fixture(scope="module")
def delivery(app: cdk.App) -> DeliveryStack:
    return delivery_stack(app)


@pytest.fixture(scope="module")
def templates(app: cdk.App, outdir: Path) -> dict[str, dict[str, Any]]:
    return all_templates(outdir)


@pytest.fixture(scope="module")
def pipeline(templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    found = [r for r in templates["Delivery"]["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    assert len(found) == 1
    return dict(found[0]["Properties"])


def regional(templates: dict[str, dict[str, Any]], region: str) -> dict[str, Any]:
    return templates[f"DeliveryArtifacts-{region}"]


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def artifact_bucket(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The bucket that holds artifacts (the other one is its access-log bucket)."""
    (found,) = [(name, r) for name, r in resources(template, "AWS::S3::Bucket").items() if "BucketName" in r["Properties"]]
    return found


# --- structure ---------------------------------------------------------------------------------


def test_app_holds_delivery_and_one_artifact_stack_per_other_region(app: cdk.App, outdir: Path) -> None:
    stacks = {child.node.id: child for child in app.node.children if isinstance(child, cdk.Stack)}
    assert sorted(stacks) == ["Delivery", "DeliveryArtifacts-eu-central-1", "DeliveryArtifacts-us-east-1"]
    for region in OTHER_REGIONS:
        stack = stacks[f"DeliveryArtifacts-{region}"]
        assert isinstance(stack, RegionalArtifactsStack)
        assert (stack.account, stack.region) == (TOOLING, region)
        assert stack.stack_name == f"mlops-delivery-artifacts-{region}"
        assert stack.termination_protection is True
    manifest = json.loads((outdir / "manifest.json").read_text())["artifacts"]
    # CDK created no support stack of its own, and deploys the regional stores before the pipeline.
    assert not [name for name in manifest if name.startswith(("cross-region-stack", "cross-account-support"))]
    assert {"DeliveryArtifacts-eu-central-1", "DeliveryArtifacts-us-east-1"} <= set(manifest["Delivery"]["dependencies"])


def test_stage_stacks_deploy_to_their_environment_region(delivery: DeliveryStack) -> None:
    assert [stage.stage_name for stage in delivery.stages] == ["Dev", "Staging", "Production"]
    for stage in delivery.stages:
        stacks = [child for child in stage.node.children if isinstance(child, cdk.Stack)]
        assert {"Backbone", "SharedAssets", "Project-credit-risk"} <= {stack.node.id for stack in stacks}
        for stack in stacks:
            assert (stack.account, stack.region) == REGION_OF[stage.stage_name], stack.node.path


def test_pipeline_actions_run_in_each_stage_region_with_its_deploy_role(pipeline: dict[str, Any]) -> None:
    by_name = {stage["Name"]: stage for stage in pipeline["Stages"]}
    for name, (account, region) in REGION_OF.items():
        deploys = [a for a in by_name[name]["Actions"] if a["ActionTypeId"]["Category"] == "Deploy"]
        assert deploys, name
        for action in deploys:
            # an action without Region runs in the pipeline's own region
            assert action.get("Region", HOME) == region, action["Name"]
            assert action["RoleArn"] == deploy_role(account, region), action["Name"]


def test_pipeline_keeps_artifacts_in_every_region_it_deploys_to(pipeline: dict[str, Any]) -> None:
    assert "ArtifactStore" not in pipeline
    stores = {entry["Region"]: entry["ArtifactStore"] for entry in pipeline["ArtifactStores"]}
    assert sorted(stores) == sorted([HOME, *OTHER_REGIONS])
    assert "ArtifactBucket" in json.dumps(stores[HOME]["Location"])
    assert "ArtifactKey" in json.dumps(stores[HOME]["EncryptionKey"]["Id"])
    for region in OTHER_REGIONS:
        assert stores[region]["Location"] == f"mlops-delivery-{TOOLING}-{region}"
        assert stores[region]["EncryptionKey"] == {"Type": "KMS", "Id": f"arn:aws:kms:{region}:{TOOLING}:alias/mlops-delivery-artifacts"}


# --- the regional artifact stores ---------------------------------------------------------------


@pytest.mark.parametrize("region", sorted(OTHER_REGIONS))
def test_regional_bucket_is_kms_encrypted_with_a_rotated_retained_key(templates: dict[str, dict[str, Any]], region: str) -> None:
    template = regional(templates, region)
    keys = resources(template, "AWS::KMS::Key")
    assert len(keys) == 1
    (key_id, key), = keys.items()
    assert key["Properties"]["EnableKeyRotation"] is True
    assert (key["DeletionPolicy"], key["UpdateReplacePolicy"]) == ("Retain", "Retain")
    aliases = resources(template, "AWS::KMS::Alias")
    assert [a["Properties"]["AliasName"] for a in aliases.values()] == ["alias/mlops-delivery-artifacts"]

    _, bucket = artifact_bucket(template)
    properties = bucket["Properties"]
    assert properties["BucketName"] == f"mlops-delivery-{TOOLING}-{region}"
    (rule,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]}}
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert all(properties["PublicAccessBlockConfiguration"].values())


@pytest.mark.parametrize("region", sorted(OTHER_REGIONS))
def test_regional_bucket_logs_access_to_a_retained_bucket_in_its_region(templates: dict[str, dict[str, Any]], region: str) -> None:
    template = regional(templates, region)
    _, bucket = artifact_bucket(template)
    logging = bucket["Properties"]["LoggingConfiguration"]
    target = logging["DestinationBucketName"]["Ref"]
    assert logging["LogFilePrefix"] == "artifacts/"
    logs_bucket = template["Resources"][target]
    assert logs_bucket["Type"] == "AWS::S3::Bucket"
    assert logs_bucket["DeletionPolicy"] == "Retain"


@pytest.mark.parametrize("region", sorted(OTHER_REGIONS))
def test_regional_store_follows_the_audit_settings_and_carries_the_platform_tags(
    templates: dict[str, dict[str, Any]], region: str
) -> None:
    template = regional(templates, region)
    _, bucket = artifact_bucket(template)
    logs_bucket = template["Resources"][bucket["Properties"]["LoggingConfiguration"]["DestinationBucketName"]["Ref"]]
    (rule,) = logs_bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == 400  # audit.access_logs_expiration_days in the two-regions kit.yaml
    for resource in [*resources(template, "AWS::KMS::Key").values(), *resources(template, "AWS::S3::Bucket").values()]:
        assert {"Key": "kit:platform", "Value": "mlops"} in resource["Properties"]["Tags"]
        assert {"Key": "cost-center", "Value": "ml-platform"} in resource["Properties"]["Tags"]


@pytest.mark.parametrize("region", sorted(OTHER_REGIONS))
def test_regional_bucket_denies_requests_without_tls(templates: dict[str, dict[str, Any]], region: str) -> None:
    template = regional(templates, region)
    bucket_id, _ = artifact_bucket(template)
    (policy,) = [p for p in resources(template, "AWS::S3::BucketPolicy").values() if p["Properties"]["Bucket"] == {"Ref": bucket_id}]
    denies = [s for s in statements(policy["Properties"]["PolicyDocument"]) if s["Effect"] == "Deny"]
    insecure = [s for s in denies if s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}]
    assert len(insecure) == 1
    assert insecure[0]["Action"] == "s3:*" and insecure[0]["Principal"] == {"AWS": "*"}
    arn = {"Fn::GetAtt": [bucket_id, "Arn"]}
    assert insecure[0]["Resource"] == [arn, {"Fn::Join": ["", [arn, "/*"]]}]


@pytest.mark.parametrize(("region", "account"), sorted(OTHER_REGIONS.items()))
def test_regional_store_admits_exactly_the_deploy_role_of_its_region(
    templates: dict[str, dict[str, Any]], region: str, account: str
) -> None:
    template = regional(templates, region)
    bucket_id, _ = artifact_bucket(template)
    (policy,) = [p for p in resources(template, "AWS::S3::BucketPolicy").values() if p["Properties"]["Bucket"] == {"Ref": bucket_id}]
    allows = [s for s in statements(policy["Properties"]["PolicyDocument"]) if s["Effect"] == "Allow"]
    assert len(allows) == 1
    assert allows[0]["Principal"] == {"AWS": deploy_role(account, region)}
    assert allows[0]["Action"] == ["s3:GetBucket*", "s3:GetObject*", "s3:List*"]

    (key,) = resources(template, "AWS::KMS::Key").values()
    key_statements = statements(key["Properties"]["KeyPolicy"])
    named: set[str] = set()
    for statement in key_statements:
        if statement["Effect"] == "Deny":  # GrantsOnlyForAwsResources: a Deny for everyone grants nothing
            continue
        assert statement["Principal"] != "*" and statement["Principal"].get("AWS") != "*", statement
        named |= accounts_in(statement["Principal"])
    assert named == {TOOLING, account}
    (deploy,) = [s for s in key_statements if s["Principal"] == {"AWS": deploy_role(account, region)}]
    assert deploy["Action"] == ["kms:Decrypt", "kms:DescribeKey"]


def test_pipeline_role_reaches_regional_keys_only_by_their_alias(templates: dict[str, dict[str, Any]]) -> None:
    role_policies = [
        p for name, p in resources(templates["Delivery"], "AWS::IAM::Policy").items() if name.startswith("PipelinePipelineRoleDefaultPolicy")
    ]
    assert len(role_policies) == 1
    kms_statements = [s for s in statements(role_policies[0]["Properties"]["PolicyDocument"]) if "kms:Decrypt" in s["Action"]]
    for statement in kms_statements:
        assert statement["Resource"] != "*" and "*" not in statement["Resource"], statement
    (by_alias,) = [s for s in kms_statements if "Condition" in s]
    assert by_alias["Condition"] == {"ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/mlops-delivery-artifacts"}}
    assert sorted(by_alias["Resource"]) == sorted(f"arn:aws:kms:{region}:{TOOLING}:key/*" for region in OTHER_REGIONS)
    buckets = json.dumps(role_policies[0]["Properties"]["PolicyDocument"])
    for region in OTHER_REGIONS:
        assert f"arn:aws:s3:::mlops-delivery-{TOOLING}-{region}/*" in buckets


# --- checks ------------------------------------------------------------------------------------


def test_every_stack_is_nag_clean_including_regional_stores_and_stages(outdir: Path) -> None:
    assert nag_errors(outdir) == []
    reports = {p.name for p in outdir.rglob("*-NagReport.csv")}
    for region in OTHER_REGIONS:
        assert f"AwsSolutions--mlops-delivery-artifacts-{region}-NagReport.csv" in reports, reports
    assert any(name.startswith("AwsSolutions-Production-") for name in reports), reports


def test_every_template_is_cfn_lint_clean_in_its_own_region(outdir: Path) -> None:
    from cfnlint.api import ManualArgs, lint_file

    linted: list[tuple[Path, str]] = []
    for manifest in outdir.rglob("manifest.json"):
        for artifact in json.loads(manifest.read_text())["artifacts"].values():
            if artifact["type"] == "aws:cloudformation:stack":
                region = artifact["environment"].rsplit("/", 1)[1]
                linted.append((manifest.parent / artifact["properties"]["templateFile"], region))
    # Delivery, two regional stores; Backbone, SharedAssets and the project per stage; DeliveryAccess after dev
    assert len(linted) >= 1 + 2 + 3 * 3 + 2
    assert {region for _, region in linted} == {HOME, *OTHER_REGIONS}
    problems = []
    for path, region in linted:
        for match in lint_file(path, config=ManualArgs(regions=[region])):
            if match.rule.severity.lower() == "error":
                problems.append(f"{path.name} ({region}): {match.rule.id} {match.message}")
    assert problems == []


# --- bad input ---------------------------------------------------------------------------------


def test_fails_if_the_pipeline_name_cannot_name_a_regional_bucket() -> None:
    app = cdk.App()
    with pytest.raises(ValueError, match="not a valid S3 bucket name"):
        RegionalArtifactsStack(
            app, "Regional", pipeline_name="a-pipeline-name-far-too-long-for-an-s3-bucket-name",
            access_logs_expiration_days=30, env=cdk.Environment(account=TOOLING, region="us-east-1"),
        )
