"""ProjectBuildPipeline and PromotionRole in isolation: one small stack each, synthesized once."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template

from mlops_kit.constructs.project_build import (
    ProjectBuildError,
    ProjectBuildPipeline,
    ProjectSource,
    PromotionRole,
    PromotionTarget,
    build_placement,
)
from mlops_kit.nag import apply_checks
from tests.conftest import config_from_yaml, feature_flags, nag_problems

DEV, STAGING, PRODUCTION = "222222222222", "333333333333", "444444444444"
CONNECTION = "arn:aws:codeconnections:eu-west-1:111111111111:connection/1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d"
TARGETS = (PromotionTarget("staging", STAGING, "eu-west-1"), PromotionTarget("production", PRODUCTION, "eu-west-1", approval=True))


def make_stack(**overrides: Any) -> cdk.Stack:
    app = cdk.App(context=feature_flags())
    stack = cdk.Stack(app, "Project", env=cdk.Environment(account=DEV, region="eu-west-1"))
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    bucket = s3.Bucket(
        stack, "Artifacts", encryption_key=key, enforce_ssl=True, versioned=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
    )
    props: dict[str, Any] = {
        "prefix": "mlops",
        "project_name": "churn",
        "source": ProjectSource.connection(connection_arn=CONNECTION, repository="my-org/kit", folder="projects/churn"),
        "sagemaker_pipeline_name": "mlops-churn",
        "artifact_bucket": bucket,
        "encryption_key": key,
        "promotion_targets": TARGETS,
        **overrides,
    }
    ProjectBuildPipeline(stack, "Build", **props)
    from mlops_kit.nag import suppress

    for rule in ("AwsSolutions-S1", "NIST.800.53.R5-S3BucketLoggingEnabled", "NIST.800.53.R5-S3BucketReplicationEnabled"):
        suppress(bucket, rule, "test fixture bucket: logging and replication are the SecureBucket's concern, not this test's")
    apply_checks(stack)
    return stack


@pytest.fixture(scope="module")
def stack() -> cdk.Stack:
    return make_stack()


@pytest.fixture(scope="module")
def template(stack: cdk.Stack) -> Template:
    return Template.from_stack(stack)


@pytest.fixture(scope="module")
def pipeline(template: Template) -> dict[str, Any]:
    return next(iter(template.find_resources("AWS::CodePipeline::Pipeline").values()))["Properties"]


def build_commands(template: Template) -> list[str]:
    return [json.dumps(p["Properties"]["Source"]["BuildSpec"]) for p in template.find_resources("AWS::CodeBuild::Project").values()]


def test_is_nag_clean(stack: cdk.Stack) -> None:
    assert nag_problems(stack) == []


def test_stages_run_tests_update_then_promote_in_order(pipeline: dict[str, Any]) -> None:
    assert [s["Name"] for s in pipeline["Stages"]] == ["Source", "Test", "Update", "PromoteStaging", "PromoteProduction"]


def test_approval_only_before_production(pipeline: dict[str, Any]) -> None:
    stages = {s["Name"]: s["Actions"] for s in pipeline["Stages"]}
    assert [a["ActionTypeId"]["Category"] for a in stages["PromoteStaging"]] == ["Build"]
    production = sorted(stages["PromoteProduction"], key=lambda a: a["RunOrder"])
    assert [a["ActionTypeId"]["Category"] for a in production] == ["Approval", "Build"]


def test_push_to_the_project_folder_triggers(pipeline: dict[str, Any]) -> None:
    push = pipeline["Triggers"][0]["GitConfiguration"]["Push"][0]
    assert push["FilePaths"] == {"Includes": ["projects/churn/**"]}
    assert push["Branches"] == {"Includes": ["main"]}
    assert pipeline["PipelineType"] == "V2"


def test_build_runs_pytest_updates_and_starts_the_pipeline(template: Template) -> None:
    specs = build_commands(template)
    assert any("cd projects/churn" in s and "python -m pytest -q" in s for s in specs)
    update = next(s for s in specs if "update-pipeline" in s)
    assert "python pipeline.py --output pipeline-definition.json" in update
    assert update.index("update-pipeline") < update.index("start-pipeline-execution")


def test_promotion_passes_target_environment_and_role(pipeline: dict[str, Any]) -> None:
    stages = {s["Name"]: s["Actions"] for s in pipeline["Stages"]}
    build = next(a for a in stages["PromoteProduction"] if a["ActionTypeId"]["Category"] == "Build")
    variables = {v["name"]: v["value"] for v in json.loads(build["Configuration"]["EnvironmentVariables"])}
    assert variables["TARGET_ACCOUNT"] == PRODUCTION
    assert variables["START_RUN"] == "false"
    assert variables["ASSUME_ROLE_ARN"] == "arn:aws:iam::444444444444:role/mlops-pipeline-promotion"


def test_build_role_is_named_and_assumes_exactly_the_target_promotion_roles(template: Template) -> None:
    template.has_resource_properties("AWS::IAM::Role", {"RoleName": "mlops-churn-build"})
    assumed: list[Any] = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Action"] == "sts:AssumeRole":
                assumed.append(statement["Resource"])
    text = json.dumps(assumed)
    assert ":iam::333333333333:role/mlops-pipeline-promotion" in text
    assert ":iam::444444444444:role/mlops-pipeline-promotion" in text
    assert "*" not in text
    assert DEV not in text


def test_sagemaker_permissions_name_only_the_project_pipeline(template: Template) -> None:
    template.has_resource_properties("AWS::IAM::Policy", {"PolicyDocument": {"Statement": Match.array_with([Match.object_like({
        "Sid": "UpdateAndRunTheProjectPipeline",
        "Resource": "arn:aws:sagemaker:eu-west-1:222222222222:pipeline/mlops-churn",
    })])}})


def test_codebuild_is_encrypted_and_unprivileged(template: Template) -> None:
    for project in template.find_resources("AWS::CodeBuild::Project").values():
        assert "EncryptionKey" in project["Properties"]
        assert project["Properties"]["Environment"].get("PrivilegedMode", False) is False


def test_s3_source_and_own_repository() -> None:
    app = cdk.App(context=feature_flags())
    stack = cdk.Stack(app, "S3Project", env=cdk.Environment(account=DEV, region="eu-west-1"))
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    bucket = s3.Bucket(stack, "Seed", encryption_key=key, versioned=True)
    ProjectBuildPipeline(
        stack, "Build", prefix="mlops", project_name="fraud", source=ProjectSource.s3(bucket=bucket, key="fraud.zip"),
        sagemaker_pipeline_name="mlops-fraud", artifact_bucket=bucket, encryption_key=key,
    )
    template = Template.from_stack(stack)
    props = next(iter(template.find_resources("AWS::CodePipeline::Pipeline").values()))["Properties"]
    assert props["Stages"][0]["Actions"][0]["ActionTypeId"]["Provider"] == "S3"
    assert [s["Name"] for s in props["Stages"]] == ["Source", "Test", "Update"]
    assert "Triggers" not in props


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ProjectSource.connection(connection_arn="arn:aws:s3:::nope", repository="a/b"), "not a CodeConnections connection ARN"),
        (lambda: ProjectSource.connection(connection_arn=CONNECTION, repository="nope"), "allowed <owner>/<repository>"),
        (lambda: ProjectSource.connection(connection_arn=CONNECTION, repository="a/b", folder="../x"), "relative path"),
        (lambda: PromotionTarget("prod", "1234", "eu-west-1"), "not 12 digits"),
        (lambda: make_stack(sagemaker_pipeline_name="bad name!"), "is not a SageMaker pipeline name"),
        (lambda: make_stack(prefix="m" * 60), "longer than 64 characters"),
    ],
)
def test_fails_if_props_are_wrong(build: Any, message: str) -> None:
    with pytest.raises(ProjectBuildError, match=message):
        build()


# --- the other half: the role a later environment offers -------------------------------------


@pytest.fixture(scope="module")
def promotion_template() -> Template:
    app = cdk.App(context=feature_flags())
    stack = cdk.Stack(app, "Access", env=cdk.Environment(account=STAGING, region="eu-west-1"))
    PromotionRole(stack, "Promotion", prefix="mlops", training_account=DEV)
    apply_checks(stack)
    assert nag_problems(stack) == []
    return Template.from_stack(stack)


def test_promotion_role_trusts_only_the_training_account(promotion_template: Template) -> None:
    role = next(iter(promotion_template.find_resources("AWS::IAM::Role").values()))["Properties"]
    assert role["RoleName"] == "mlops-pipeline-promotion"
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"AWS": "arn:aws:iam::222222222222:root"}
    assert statement["Condition"] == {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::222222222222:role/mlops-*-build"}}


def test_promotion_role_may_only_update_kit_pipelines(promotion_template: Template) -> None:
    (policy,) = promotion_template.find_resources("AWS::IAM::Policy").values()
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert sorted(statement["Action"]) == ["sagemaker:DescribePipeline", "sagemaker:UpdatePipeline"]
    assert statement["Resource"] == "arn:aws:sagemaker:eu-west-1:333333333333:pipeline/mlops-*"


# --- placement: only the training stage holds the build pipeline ------------------------------


def test_build_placement() -> None:
    from pathlib import Path

    text = (Path(__file__).parents[1] / "configs" / "three-accounts" / "kit.yaml").read_text()
    delivery = config_from_yaml(text).delivery
    app = cdk.App()

    class FakeStage(cdk.Stage):
        def __init__(self, scope: cdk.App, name: str) -> None:
            super().__init__(scope, name.capitalize())
            self.environment = delivery.environment(name)

    dev = cdk.Stack(FakeStage(app, "dev"), "Project")
    staging = cdk.Stack(FakeStage(app, "staging"), "Project")
    placement = build_placement(dev, delivery)
    assert placement is not None
    assert placement.environment_name == "dev"
    assert [(t.name, t.approval) for t in placement.promotion_targets] == [("staging", False), ("production", True)]
    assert build_placement(staging, delivery) is None
    off = build_placement(cdk.Stack(app, "Single"), config_from_yaml("").delivery)
    assert off is not None and off.promotion_targets == ()
