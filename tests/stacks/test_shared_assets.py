"""The SharedAssets stack (tier 2) of the shipped configuration and of a fuller one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import cfnlint.api
import pytest
from aws_cdk.assertions import Match, Template

from mlops_kit.config import ConfigError
from mlops_kit.stacks import parameters
from tests.conftest import ROOT, config_from_yaml, nag_problems, synth_app

FULL_CONFIG = """
prefix: acme
shared_assets:
  studio:
    notebook_sharing: true
    instance_types: [ml.t3.medium, ml.m5.xlarge]
    lifecycle_configs:
      - name: proxy
        default: true
        script: |
          #!/bin/bash
          echo "pip config set global.index-url https://pypi.internal/simple"
    custom_image:
      name: team-nb
      tag: "2.1.0"
    user_profiles:
      - {name: ana, persona: data_scientist}
      - {name: ben, persona: mlops_engineer, instance_types: [ml.t3.medium]}
  feature_store:
    feature_groups:
      - name: sessions
        record_identifier: session_id
        event_time: ts
        online_store: true
        features:
          - {name: session_id, type: String}
          - {name: ts, type: String}
          - {name: clicks, type: Integral}
  model_registry:
    reader_accounts: ["444455556666", "777788889999"]
  experiments:
    mode: server
    size: Medium
"""


@pytest.fixture(scope="module")
def shared(stack_of: Callable[[str], cdk.Stack]) -> cdk.Stack:
    return stack_of("SharedAssets")


@pytest.fixture(scope="module")
def template(shared: cdk.Stack) -> Template:
    return Template.from_stack(shared)


@pytest.fixture(scope="module")
def full_app(tmp_path_factory: pytest.TempPathFactory) -> cdk.App:
    return synth_app(config_from_yaml(FULL_CONFIG), tmp_path_factory.mktemp("full-app"))


@pytest.fixture(scope="module")
def full(full_app: cdk.App) -> Template:
    stack = full_app.node.find_child("SharedAssets")
    assert isinstance(stack, cdk.Stack)
    return Template.from_stack(stack)


def all_templates(app: cdk.App) -> dict[str, dict[str, Any]]:
    return {stack.stack_name: Template.from_stack(stack).to_json() for stack in app.node.children if isinstance(stack, cdk.Stack)}


def lint(template: dict[str, Any]) -> list[str]:
    matches = cfnlint.api.lint(json.dumps(template), regions=["us-east-1", "eu-west-1"])
    return [f"{m.rule.id} {m.message} {m.path}" for m in matches if m.rule.id[0] in "EW"]


# --- nag, cfn-lint, cross-stack shape ------------------------------------------------------

@pytest.mark.parametrize("stack_id", ["Backbone", "SharedAssets"])
def test_stacks_are_nag_clean(stack_of: Callable[[str], cdk.Stack], stack_id: str) -> None:
    assert nag_problems(stack_of(stack_id)) == []


def test_full_config_is_nag_clean(full_app: cdk.App, full: Template) -> None:
    for stack in (full_app.node.find_child("Backbone"), full_app.node.find_child("SharedAssets")):
        assert isinstance(stack, cdk.Stack)
        assert nag_problems(stack) == []


def test_shared_assets_is_cfn_lint_clean(template: Template, full: Template) -> None:
    assert lint(template.to_json()) == []
    assert lint(full.to_json()) == []


def test_backbone_is_cfn_lint_clean(stack_of: Callable[[str], cdk.Stack]) -> None:
    found = lint(Template.from_stack(stack_of("Backbone")).to_json())
    # W3005 on CDK's own custom-resource providers (Vpc restrict_default_security_group, and the
    # AwsCustomResource that reads the S3 prefix list) is CDK's template, not ours.
    cdk_providers = ("CustomVpcRestrictDefaultSG", "AWS679f53fac002430cb0da5b7982bd2287")
    assert [f for f in found if not (f.startswith("W3005") and any(p in f for p in cdk_providers))] == []


def test_backbone_never_depends_on_shared_assets(stack_of: Callable[[str], cdk.Stack]) -> None:
    backbone = json.dumps(Template.from_stack(stack_of("Backbone")).to_json())
    assert "Fn::ImportValue" not in backbone


def test_tier3_parameters_are_published(template: Template) -> None:
    for key in (
        "datasets-bucket-name", "datasets-bucket-arn", "artifacts-bucket-name", "artifacts-bucket-arn",
        "studio-domain-id", "feature-store-offline-bucket-name", "feature-store-database-name",
        "model-registry-event-bus-name", "model-registry-event-bus-arn",
        "mlflow-arn", "mlflow-mode",
    ):
        template.has_resource_properties("AWS::SSM::Parameter", {"Name": parameters.parameter_name("mlops", key), "Type": "String"})


def test_custom_image_repository_parameter_appears_with_the_image(full: Template) -> None:
    full.has_resource_properties("AWS::SSM::Parameter", {"Name": "/acme/platform/studio-image-repository-uri"})


# --- security invariants across the whole app -------------------------------------------------

def _apps(default_app: cdk.App, full_app: cdk.App) -> list[dict[str, Any]]:
    return [*all_templates(default_app).values(), *all_templates(full_app).values()]


def test_no_role_has_an_aws_managed_full_access_policy(default_app: cdk.App, full_app: cdk.App) -> None:
    offenders = []
    for tpl in _apps(default_app, full_app):
        for logical_id, resource in tpl.get("Resources", {}).items():
            if resource["Type"] in ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"):
                arns = json.dumps(resource["Properties"].get("ManagedPolicyArns", []))
                if "FullAccess" in arns or ":aws:policy/AdministratorAccess" in arns:
                    offenders.append(logical_id)
            if resource["Type"] == "AWS::IAM::ManagedPolicy" and "FullAccess" in json.dumps(resource["Properties"].get("ManagedPolicyName", "")):
                offenders.append(logical_id)
    assert offenders == []


def _is_kit_key(value: Any, template: dict[str, Any]) -> bool:
    """A reference to the kit's data key: in the Backbone, or read from SSM by SharedAssets and projects."""
    text = json.dumps(value)
    if "KeysDataKey" in text:
        return True
    if isinstance(value, dict) and "Ref" in value:
        parameter = template.get("Parameters", {}).get(value["Ref"], {})
        return str(parameter.get("Default", "")).endswith("/platform/data-key-arn")
    return False


def test_every_bucket_domain_feature_group_and_key_is_encrypted_with_a_kit_key_and_retained(default_app: cdk.App, full_app: cdk.App) -> None:
    checked = 0
    for tpl in _apps(default_app, full_app):
        for logical_id, resource in tpl.get("Resources", {}).items():
            kind, props = resource["Type"], resource.get("Properties", {})
            if kind not in ("AWS::S3::Bucket", "AWS::SageMaker::Domain", "AWS::SageMaker::FeatureGroup", "AWS::KMS::Key"):
                continue
            checked += 1
            assert resource.get("DeletionPolicy") == "Retain", logical_id
            assert resource.get("UpdateReplacePolicy") == "Retain", logical_id
            if kind == "AWS::S3::Bucket":
                sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
                if logical_id.startswith("AuditAccessLogsBucket"):
                    # S3 server access logs can only be delivered to an SSE-S3 bucket.
                    assert sse == {"SSEAlgorithm": "AES256"}
                    continue
                assert sse["SSEAlgorithm"] == "aws:kms" and _is_kit_key(sse["KMSMasterKeyID"], tpl), logical_id
            elif kind == "AWS::SageMaker::Domain":
                assert _is_kit_key(props["KmsKeyId"], tpl), logical_id
            elif kind == "AWS::SageMaker::FeatureGroup":
                if "OfflineStoreConfig" in props:
                    assert _is_kit_key(props["OfflineStoreConfig"]["S3StorageConfig"]["KmsKeyId"], tpl), logical_id
                if props.get("OnlineStoreConfig", {}).get("EnableOnlineStore"):
                    assert _is_kit_key(props["OnlineStoreConfig"]["SecurityConfig"]["KmsKeyId"], tpl), logical_id
            else:
                assert props["EnableKeyRotation"] is True, logical_id
    assert checked >= 12


# --- Studio ------------------------------------------------------------------------------------

def ssm_ref(template: Template, key: str) -> dict[str, str]:
    """``{"Ref": <the CloudFormation parameter that reads /mlops/platform/<key> from SSM>}``."""
    found = [name for name, spec in template.to_json()["Parameters"].items() if spec.get("Default") == f"/mlops/platform/{key}"]
    assert len(found) == 1, key
    return {"Ref": found[0]}


def test_domain_runs_in_the_backbone_private_subnets(template: Template) -> None:
    subnets = ssm_ref(template, "private-subnet-ids")
    template.has_resource_properties("AWS::SageMaker::Domain", {
        "AppNetworkAccessType": "VpcOnly",
        "AuthMode": "IAM",
        "VpcId": ssm_ref(template, "vpc-id"),
        "SubnetIds": [{"Fn::Select": [0, {"Fn::Split": [",", subnets]}]}, {"Fn::Select": [1, {"Fn::Split": [",", subnets]}]}],
        "DefaultUserSettings": Match.object_like({
            "ExecutionRole": ssm_ref(template, "execution-role-arn"),
            "SecurityGroups": [ssm_ref(template, "workload-security-group-id")],
        }),
    })


def test_shared_assets_reads_the_backbone_through_ssm_only(template: Template) -> None:
    """No export pins a Backbone value: the Backbone can change its VPC or key without a deadly embrace."""
    assert "Fn::ImportValue" not in json.dumps(template.to_json())


def test_domain_and_profiles_keep_only_their_creation_tags(template: Template) -> None:
    for kind in ("AWS::SageMaker::Domain", "AWS::SageMaker::UserProfile"):
        for resource in template.find_resources(kind).values():
            keys = {tag["Key"] for tag in resource["Properties"]["Tags"]}
            assert "cost-center" not in keys  # the app-wide tag from kit.yaml
            assert "kit:platform" in keys


def test_shipped_profiles_are_tied_to_their_personas(template: Template) -> None:
    template.resource_count_is("AWS::SageMaker::UserProfile", 2)
    template.has_resource_properties("AWS::SageMaker::UserProfile", {
        "UserProfileName": "mlops-example-scientist",
        "Tags": Match.array_with([{"Key": "kit:persona", "Value": "data_scientist"}]),
    })
    template.has_resource_properties("AWS::IAM::Policy", {
        "Roles": [{"Fn::Select": Match.any_value()}],
        "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Sid": "OpenExampleScientist", "Action": "sagemaker:CreatePresignedDomainUrl",
            "Condition": {"StringEquals": {"aws:SourceIdentity": "example-scientist"}},
        })])},
    })


def test_full_config_turns_on_sharing_lifecycle_and_custom_image(full: Template) -> None:
    full.has_resource_properties("AWS::SageMaker::Domain", {
        "DefaultUserSettings": Match.object_like({
            "SharingSettings": Match.object_like({"NotebookOutputOption": "Allowed", "S3KmsKeyId": Match.any_value()}),
            "JupyterLabAppSettings": Match.object_like({
                "CustomImages": [{"AppImageConfigName": "acme-team-nb-config", "ImageName": "acme-team-nb"}],
                "LifecycleConfigArns": [Match.any_value()],
            }),
        }),
    })
    full.has_resource_properties("AWS::ECR::Repository", {"ImageTagMutability": "IMMUTABLE"})
    full.resource_count_is("AWS::SageMaker::StudioLifecycleConfig", 1)


# --- Feature Store, registry, experiments, data --------------------------------------------------

def test_shipped_feature_group(template: Template) -> None:
    template.has_resource_properties("AWS::SageMaker::FeatureGroup", {
        "FeatureGroupName": "mlops-customers-v1",
        "RecordIdentifierFeatureName": "customer_id",
        "EventTimeFeatureName": "event_time",
    })


def test_registry_bus_and_reader_accounts(template: Template, full_app: cdk.App, full: Template) -> None:
    template.has_resource_properties("AWS::Events::EventBus", {"Name": "mlops-model-registry"})
    backbone = Template.from_stack(full_app.node.find_child("Backbone"))  # type: ignore[arg-type]
    backbone.has_resource_properties("AWS::KMS::Key", {
        "KeyPolicy": {"Statement": Match.array_with([Match.object_like({
            "Sid": "ModelRegistryReaderAccountsDecrypt", "Action": ["kms:Decrypt", "kms:DescribeKey"],
        })])},
    })
    full.has_resource_properties("AWS::S3::BucketPolicy", {
        "PolicyDocument": {"Statement": Match.array_with([Match.object_like({"Sid": "ReaderAccountsReadModelArtifacts"})])},
    })


def test_mlflow_is_a_serverless_app_by_default(template: Template, full: Template) -> None:
    template.has_resource("AWS::SageMaker::MlflowApp", {"DeletionPolicy": "Retain", "Properties": Match.object_like({"Name": "mlops-mlflow"})})
    template.resource_count_is("AWS::SageMaker::MlflowTrackingServer", 0)
    full.has_resource_properties("AWS::SageMaker::MlflowTrackingServer", {"TrackingServerSize": "Medium"})
    full.resource_count_is("AWS::SageMaker::MlflowApp", 0)
    full.has_resource_properties("AWS::SSM::Parameter", {"Name": "/acme/platform/mlflow-tracking-server-name"})


@pytest.mark.parametrize("persona", ["DataScientist", "MlEngineer", "MlopsEngineer"])
def test_mlflow_personas_get_the_apps_exact_arn(template: Template, persona: str) -> None:
    app_id = next(iter(template.find_resources("AWS::SageMaker::MlflowApp")))
    policies = template.find_resources("AWS::IAM::Policy")
    granted = [
        statement
        for policy in policies.values()
        # the persona role is read from its SSM parameter (/<prefix>/platform/persona/<persona>-role-arn)
        if persona.lower() in json.dumps(policy["Properties"].get("Roles", [])).lower()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement.get("Resource") == {"Fn::GetAtt": [app_id, "Arn"]}
    ]
    assert granted and "sagemaker:CreatePresignedMlflowAppUrl" in granted[0]["Action"]


def test_switching_modes_keeps_the_artifact_bucket_and_its_logical_id(shared: cdk.Stack, full: Template, template: Template) -> None:
    def artifacts(tpl: Template) -> tuple[str, dict[str, object]]:
        found = {k: v for k, v in tpl.find_resources("AWS::S3::Bucket").items() if k.startswith("SharedDataArtifacts")}
        assert len(found) == 1
        return next(iter(found.items()))

    (app_id, app_bucket), (server_id, server_bucket) = artifacts(template), artifacts(full)
    assert app_id == server_id
    assert app_bucket["DeletionPolicy"] == server_bucket["DeletionPolicy"] == "Retain"


def test_kit_buckets_log_to_the_backbone_log_bucket(template: Template, stack_of: Callable[[str], cdk.Stack]) -> None:
    buckets = template.find_resources("AWS::S3::Bucket")
    assert len(buckets) == 3
    for bucket in buckets.values():
        assert bucket["Properties"]["LoggingConfiguration"]["DestinationBucketName"] == ssm_ref(template, "access-logs-bucket-name")
    Template.from_stack(stack_of("Backbone")).has_resource_properties("AWS::S3::BucketPolicy", {
        "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Sid": "S3ServerAccessLogsFromKitBuckets", "Principal": {"Service": "logging.s3.amazonaws.com"},
        })])},
    })


def test_nothing_optional_when_switched_off(tmp_path: Path) -> None:
    config = config_from_yaml("shared_assets:\n  studio: {enabled: false}\n  feature_store: {enabled: false}\n  experiments: {mode: 'off'}\n")
    app = cdk.App()
    from mlops_kit.platform import add_platform

    platform = add_platform(app, config)
    tpl = Template.from_stack(platform.shared_assets)
    for kind in ("AWS::SageMaker::Domain", "AWS::SageMaker::FeatureGroup", "AWS::SageMaker::MlflowTrackingServer", "AWS::SageMaker::MlflowApp"):
        tpl.resource_count_is(kind, 0)
    tpl.resource_count_is("AWS::Events::EventBus", 1)


# --- bad input: one plain message naming file and field ------------------------------------------

@pytest.mark.parametrize(("snippet", "field", "message"), [
    ("  studio:\n    user_profiles:\n      - {name: zed, persona: wizard}\n", "shared_assets.studio.user_profiles[0].persona", "unknown persona; allowed: data_scientist"),
    ("  experiments:\n    size: Huge\n", "shared_assets.experiments.size", "'Small', 'Medium' or 'Large'"),
    ("  experiments:\n    size: Small\n", "shared_assets.experiments.size", "applies to mode: server only (got mode: app)"),
    ("  experiments:\n    mode: \"off\"\n    size: Large\n", "shared_assets.experiments.size", "applies to mode: server only (got mode: off)"),
    ("  experiments:\n    mode: app\n    mlflow_version: \"3.0\"\n", "shared_assets.experiments.mlflow_version", "server only"),
    ("  studio:\n    custom_image: {name: nb, tag: latest}\n", "shared_assets.studio.custom_image.tag", "immutable tags"),
])
def test_fails_if_shared_assets_config_is_bad(snippet: str, field: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        config_from_yaml("shared_assets:\n" + snippet)
    assert "kit.yaml:" in str(error.value)
    assert error.value.field == field
    assert message in str(error.value)


FEATURES = "        features:\n          - {name: id, type: String}\n          - {name: ts, type: Fractional}\n"


@pytest.mark.parametrize(("group", "field", "message"), [
    ("        record_identifier: id\n        event_time: ts\n" + FEATURES + "          - {name: ID, type: String}\n",
     "features[2].name", "two features have this name"),
    ("        record_identifier: id\n        event_time: ts\n        features:\n          - {name: id, type: Text}\n          - {name: ts, type: Fractional}\n",
     "features[0].type", "'Integral', 'Fractional' or 'String'"),
    ("        event_time: ts\n" + FEATURES, "record_identifier", "this key is required"),
    ("        record_identifier: id\n" + FEATURES, "event_time", "this key is required"),
    ("        record_identifier: nope\n        event_time: ts\n" + FEATURES, "record_identifier", "not one of the features (id, ts)"),
    ("        record_identifier: id\n        event_time: n\n" + FEATURES + "          - {name: n, type: Integral}\n",
     "event_time", "must be Fractional (epoch seconds) or String"),
])
def test_fails_if_feature_definitions_are_invalid(group: str, field: str, message: str) -> None:
    text = "shared_assets:\n  feature_store:\n    feature_groups:\n      - name: clicks\n" + group
    with pytest.raises(ConfigError) as error:
        config_from_yaml(text)
    assert error.value.field == f"shared_assets.feature_store.feature_groups[0].{field}"
    assert message in str(error.value)
    assert error.value.line is not None


def test_fails_if_app_is_given_a_bad_config_exit_2_nothing_written(tmp_path: Path) -> None:
    bad = tmp_path / "kit.yaml"
    bad.write_text("shared_assets:\n  experiments:\n    size: Huge\n")
    outdir = tmp_path / "cdk.out"
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps({"config": str(bad)}), "CDK_OUTDIR": str(outdir), "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1"}
    result = subprocess.run([sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert f"{bad}:3: shared_assets.experiments.size: got 'Huge'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not outdir.exists() or not any(outdir.glob("*.template.json"))
