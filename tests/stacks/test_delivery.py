"""The Delivery stack of a three-account config (tooling, dev, staging, production), synthesized once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from mlops_kit.app import build_app
from mlops_kit.config import KitConfig, load_config
from mlops_kit.errors import ConfigError
from mlops_kit.stacks.delivery import DeliveryStack, PlatformStage
from tests.conftest import ROOT, config_from_yaml, feature_flags, joined

THREE_ACCOUNTS = ROOT / "tests" / "configs" / "three-accounts" / "kit.yaml"
TOOLING, DEV, STAGING, PRODUCTION = "111111111111", "222222222222", "333333333333", "444444444444"
CONFIGURED = {TOOLING, DEV, STAGING, PRODUCTION}


@pytest.fixture(scope="module")
def config() -> KitConfig:
    """The three-account kit.yaml with the shipped example project (projects/credit-risk)."""
    return load_config(THREE_ACCOUNTS, projects_dir=ROOT / "projects")


@pytest.fixture(scope="module")
def outdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("three-accounts")


def synth_recording_findings(config: KitConfig, outdir: Path) -> cdk.App:
    """cdk-nag findings are recorded in the assembly instead of aborting the synth, so a
    finding fails the nag-clean test alone, with its path. Projects: the shipped ones."""
    context = {**feature_flags(), "@aws-cdk/core:annotationsInValidationReport": False}
    app = cdk.App(context=context, outdir=str(outdir))
    build_app(config, app=app, projects_dir=ROOT / "projects")
    app.synth()
    return app


def delivery_stack(app: cdk.App) -> DeliveryStack:
    stack = app.node.find_child("Delivery")
    assert isinstance(stack, DeliveryStack)
    return stack


@pytest.fixture(scope="module")
def app(config: KitConfig, outdir: Path) -> cdk.App:
    """Synthesized once."""
    return synth_recording_findings(config, outdir)


@pytest.fixture(scope="module")
def assembly(app: cdk.App, outdir: Path) -> Path:
    """The synthesized cloud assembly directory (the stages' nested assemblies inside)."""
    return outdir


@pytest.fixture(scope="module")
def delivery(app: cdk.App) -> DeliveryStack:
    return delivery_stack(app)


@pytest.fixture(scope="module")
def template(delivery: DeliveryStack) -> Template:
    return Template.from_stack(delivery)


@pytest.fixture(scope="module")
def pipeline(template: Template) -> dict[str, Any]:
    pipelines = template.find_resources("AWS::CodePipeline::Pipeline")
    assert len(pipelines) == 1
    return next(iter(pipelines.values()))["Properties"]


def all_templates(outdir: Path) -> dict[str, dict[str, Any]]:
    """Every stack template in the assembly, the stages' nested assemblies included."""
    found: dict[str, dict[str, Any]] = {}

    def walk(directory: Path) -> None:
        manifest = json.loads((directory / "manifest.json").read_text())
        for artifact_id, artifact in manifest["artifacts"].items():
            if artifact["type"] == "aws:cloudformation:stack":
                found[artifact.get("displayName", artifact_id)] = json.loads(
                    (directory / artifact["properties"]["templateFile"]).read_text()
                )
            elif artifact["type"] == "cdk:cloud-assembly":
                walk(directory / artifact["properties"]["directoryName"])

    walk(outdir)
    return found


def nag_errors(outdir: Path) -> list[str]:
    """Unsuppressed cdk-nag findings recorded in any assembly (the stages write their own)."""
    errors = []
    for metadata in outdir.rglob("*.metadata.json"):
        for path, entries in json.loads(metadata.read_text()).items():
            errors += [f"{path}: {str(e['data'])[:160]}" for e in entries if e["type"] in ("aws:cdk:error", "aws:cdk:warning")
                       and any(k in str(e["data"]) for k in ("AwsSolutions", "NIST.800.53", "KitSageMaker", "CdkNag"))]
    return errors


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return list(document["Statement"])


def accounts_in(value: Any) -> set[str]:
    """Every 12-digit account named anywhere in a policy principal."""
    import re

    return set(re.findall(r"(?<!\d)(\d{12})(?!\d)", json.dumps(value)))


# --- structure ---------------------------------------------------------------------------------


def test_app_holds_only_the_delivery_stack(app: cdk.App) -> None:
    stacks = [child.node.id for child in app.node.children if isinstance(child, cdk.Stack)]
    assert stacks == ["Delivery"]


def test_delivery_runs_in_the_tooling_account(delivery: DeliveryStack) -> None:
    assert (delivery.account, delivery.region) == (TOOLING, "eu-west-1")
    assert delivery.termination_protection is True


def test_stages_deploy_in_configured_order_with_approval_before_production(pipeline: dict[str, Any]) -> None:
    names = [stage["Name"] for stage in pipeline["Stages"]]
    assert names[:3] == ["Source", "Build", "UpdatePipeline"]
    env_stages = [name for name in names if name in ("Dev", "Staging", "Production")]
    assert env_stages == ["Dev", "Staging", "Production"]
    by_name = {stage["Name"]: stage for stage in pipeline["Stages"]}
    production = by_name["Production"]["Actions"]
    first = min(production, key=lambda action: action["RunOrder"])
    assert first["ActionTypeId"]["Category"] == "Approval"
    assert all(action["RunOrder"] > first["RunOrder"] for action in production if action is not first)
    for name in ("Dev", "Staging"):
        assert all(action["ActionTypeId"]["Category"] != "Approval" for action in by_name[name]["Actions"])


def test_each_stage_deploys_backbone_shared_assets_and_access(delivery: DeliveryStack) -> None:
    for stage in delivery.stages:
        ids = {child.node.id for child in stage.node.children if isinstance(child, cdk.Stack)}
        assert {"Backbone", "SharedAssets"} <= ids
        assert ("DeliveryAccess" in ids) == (stage.environment.account != DEV)


def test_stacks_in_staging_and_production_carry_termination_protection(delivery: DeliveryStack) -> None:
    for stage in delivery.stages:
        protected = stage.environment.name in ("staging", "production")
        for stack in stage.platform.stacks:
            assert stack.termination_protection is protected, stack.node.path
            assert (stack.account, stack.region) == (stage.environment.account, stage.environment.region)


def test_stage_stacks_carry_the_platform_tags(assembly: Path) -> None:
    templates = all_templates(assembly)
    backbone = templates["Delivery/Production/Backbone"]
    tagged = [r for r in backbone["Resources"].values() if r["Type"] == "AWS::KMS::Key"]
    assert tagged
    for resource in tagged:
        assert {"Key": "kit:platform", "Value": "mlops"} in resource["Properties"]["Tags"]
        assert {"Key": "cost-center", "Value": "ml-platform"} in resource["Properties"]["Tags"]


def test_source_is_the_configured_connection(pipeline: dict[str, Any]) -> None:
    source = pipeline["Stages"][0]["Actions"][0]
    assert source["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert source["Configuration"]["ConnectionArn"].startswith("arn:aws:codeconnections:eu-west-1:111111111111:connection/")
    assert source["Configuration"]["FullRepositoryId"] == "my-org/sagemaker-mlops-kit"
    assert source["Configuration"]["BranchName"] == "main"


def test_synth_step_runs_the_test_suite_before_synth(template: Template) -> None:
    projects = template.find_resources("AWS::CodeBuild::Project")
    specs = [json.dumps(p["Properties"]["Source"].get("BuildSpec", "")) for p in projects.values()]
    synth = [spec for spec in specs if "npx cdk synth" in spec]
    assert len(synth) == 1
    assert synth[0].index("make test") < synth[0].index("npx cdk synth --no-lookups --context config=kit.yaml")


def test_pipeline_pins_the_cdk_cli_major_that_reads_this_assembly(template: Template) -> None:
    specs = json.dumps(template.find_resources("AWS::CodeBuild::Project"))
    assert "aws-cdk@2.1148.1" in specs
    assert "aws-cdk@latest" not in specs


def test_no_codebuild_project_is_privileged(template: Template) -> None:
    for logical_id, project in template.find_resources("AWS::CodeBuild::Project").items():
        assert project["Properties"]["Environment"].get("PrivilegedMode", False) is False, logical_id


# --- encryption, notifications ---------------------------------------------------------------


def test_artifacts_are_encrypted_with_the_kit_delivery_key(template: Template, pipeline: dict[str, Any]) -> None:
    template.has_resource("AWS::KMS::Key", {
        "Properties": {"EnableKeyRotation": True, "Description": Match.string_like_regexp("delivery pipeline artifacts")},
        "DeletionPolicy": "Retain",
    })
    store = pipeline["ArtifactStore"]
    assert store["EncryptionKey"]["Type"] == "KMS"
    assert "ArtifactKey" in json.dumps(store["EncryptionKey"]["Id"])


def test_failures_notify_an_encrypted_topic(template: Template) -> None:
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    template.has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "devops@example.com"})
    template.has_resource_properties(
        "AWS::CodeStarNotifications::NotificationRule",
        {"EventTypeIds": ["codepipeline-pipeline-pipeline-execution-failed"]},
    )


# --- cross-account: exactly the configured accounts -------------------------------------------


def test_artifact_key_policy_names_exactly_the_configured_accounts(template: Template) -> None:
    key = next(r for r in template.find_resources("AWS::KMS::Key").values() if "artifacts" in r["Properties"]["Description"])
    named: set[str] = set()
    for statement in statements(key["Properties"]["KeyPolicy"]):
        principal = statement["Principal"]
        if statement["Effect"] == "Deny":  # GrantsOnlyForAwsResources: a Deny for everyone grants nothing
            continue
        assert principal != "*" and principal.get("AWS") != "*", statement
        named |= accounts_in(principal)
    assert named == CONFIGURED


def test_artifact_bucket_allows_exactly_the_configured_deploy_roles(template: Template) -> None:
    named: set[str] = set()
    for policy in template.find_resources("AWS::S3::BucketPolicy").values():
        for statement in statements(policy["Properties"]["PolicyDocument"]):
            if statement["Effect"] == "Allow":
                assert statement["Principal"] != {"AWS": "*"}, statement
                named |= accounts_in(statement["Principal"])
    assert named == {DEV, STAGING, PRODUCTION}


def test_pipeline_roles_assume_only_configured_accounts_roles(template: Template) -> None:
    named: set[str] = set()
    for policy in template.find_resources("AWS::IAM::Policy").values():
        for statement in statements(policy["Properties"]["PolicyDocument"]):
            if "sts:AssumeRole" in statement["Action"]:
                named |= accounts_in(statement["Resource"])
                assert "*" not in json.dumps(statement["Resource"]).replace("arn:*:iam::111111111111:role/*", ""), statement
    assert named <= CONFIGURED and {DEV, STAGING, PRODUCTION} <= named


def test_promotion_role_trusts_exactly_the_training_account(assembly: Path) -> None:
    templates = all_templates(assembly)
    access = {name: t for name, t in templates.items() if "DeliveryAccess" in name}
    assert sorted(access) == [
        "Delivery/Production/DeliveryAccess",
        "Delivery/Staging/DeliveryAccess",
    ]
    for body in access.values():
        roles = [r for r in body["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
        assert len(roles) == 1
        trust = roles[0]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert len(trust) == 1
        assert accounts_in(trust[0]["Principal"]) == {DEV}
        assert trust[0]["Condition"] == {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{DEV}:role/mlops-*-build"}}
        assert "PermissionsBoundary" in roles[0]["Properties"]


# --- checks ------------------------------------------------------------------------------------


def test_every_stack_is_nag_clean_including_stages(assembly: Path) -> None:
    assert nag_errors(assembly) == []
    # the stages did run cdk-nag: each writes its own report
    reports = {p.name for p in assembly.rglob("*-NagReport.csv")}
    assert any(name.startswith("AwsSolutions-Production-") for name in reports), reports
    assert any(name.startswith("KitSageMaker-Production-") for name in reports), reports


def test_every_template_is_cfn_lint_clean(assembly: Path) -> None:
    """No cfn-lint errors in any template (warnings are reported by `mlops-kit synth`, as for the App)."""
    from cfnlint.api import ManualArgs, lint_file

    templates: list[Path] = []
    for manifest in assembly.rglob("manifest.json"):
        data = json.loads(manifest.read_text())
        for artifact in data["artifacts"].values():
            if artifact["type"] == "aws:cloudformation:stack":
                templates.append(manifest.parent / artifact["properties"]["templateFile"])
    assert len(templates) >= 1 + 3 * 2 + 2
    problems = []
    for path in templates:
        for match in lint_file(path, config=ManualArgs(regions=["eu-west-1"])):
            if match.rule.severity.lower() == "error":
                problems.append(f"{path.name}: {match.rule.id} {match.message}")
    assert problems == []


def test_stage_subnets_use_real_availability_zones(assembly: Path) -> None:
    for name, body in all_templates(assembly).items():
        assert "dummy1" not in json.dumps(body), name


# --- single account, delivery off --------------------------------------------------------------


def test_default_config_has_no_delivery_stack(default_app: cdk.App) -> None:
    ids = [child.node.id for child in default_app.node.children if isinstance(child, cdk.Stack)]
    assert "Delivery" not in ids
    assert "Backbone" in ids
    assert not [child for child in default_app.node.children if isinstance(child, PlatformStage)]


def test_single_account_without_delivery_synthesizes_without_delivery(tmp_path: Path) -> None:
    config = config_from_yaml('environment: {account: "123456789012", region: eu-west-1}\ndelivery: {enabled: false}\n')
    app = cdk.App(outdir=str(tmp_path))
    build_app(config, app=app)
    assert "Delivery" not in [c.node.id for c in app.node.children]


# --- bad input: one plain message naming file and field ----------------------------------------

BASE = THREE_ACCOUNTS.read_text()


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        ("name: staging", "name: dev", "delivery.environments[1].name", "already the name of environments[0]"),
        ('account: "333333333333"', 'account: "222222222222"', "delivery.environments[1].account", "already environments[0]"),
        ('account: "444444444444"', 'account: "44444444444"', "delivery.environments[2].account", "exactly 12 digits"),
        ("region: eu-west-1\n    - name: production", "region: eu-west-9\n    - name: production", "delivery.environments[1].region", "not an AWS region"),
        ("connection/1b2c3d4e", "repository/1b2c3d4e", "delivery.source.connection_arn", "not an AWS CodeConnections connection ARN"),
        ("  notification_email: devops@example.com\n", "  notification_email: devops\n", "delivery.notification_email", "not an email"),
        ("  tooling:\n    account: \"111111111111\"\n    region: eu-west-1\n", "", "delivery.tooling", "required when delivery.enabled"),
        ("kind: codeconnections", "kind: s3", "delivery.source.connection_arn", "only for source.kind codeconnections"),
    ],
)
def test_fails_if_delivery_config_is_wrong(old: str, new: str, field: str, message: str) -> None:
    assert old in BASE
    with pytest.raises(ConfigError) as caught:
        config_from_yaml(BASE.replace(old, new, 1))
    assert caught.value.file == "kit.yaml"
    assert caught.value.field == field
    assert message in caught.value.detail
    assert caught.value.line is not None
    assert caught.value.exit_code == 2


def test_fails_if_production_comes_before_staging() -> None:
    text = BASE.replace("name: staging", "name: tmp-x").replace("name: production", "name: staging").replace("name: tmp-x", "name: production")
    with pytest.raises(ConfigError) as caught:
        config_from_yaml(text)
    assert caught.value.field == "delivery.environments[2].name"
    assert "'staging' (staging) comes after 'production' (production)" in caught.value.detail


def test_fails_if_explicit_kind_breaks_the_order() -> None:
    text = BASE.replace("      region: eu-west-1\n    - name: staging", "      region: eu-west-1\n      kind: production\n    - name: staging", 1)
    with pytest.raises(ConfigError, match=r"environments\[1\].name: 'staging' \(staging\) comes after 'dev' \(production\)"):
        config_from_yaml(text)


def test_kind_follows_the_name_unless_given(config: KitConfig) -> None:
    kinds = [env.effective_kind for env in config.delivery.environments]
    assert kinds == ["development", "staging", "production"]
    assert config.delivery.accounts() == [DEV, STAGING, PRODUCTION]
    assert config.delivery.deployment_accounts() == [STAGING, PRODUCTION]
    assert config_from_yaml("").delivery.accounts() == []


def test_s3_source_creates_an_encrypted_source_bucket(tmp_path: Path) -> None:
    text = BASE.replace(
        "    kind: codeconnections\n    connection_arn: arn:aws:codeconnections:eu-west-1:111111111111:connection/1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d\n"
        "    repository: my-org/sagemaker-mlops-kit\n    branch: main\n",
        "    kind: s3\n    key: kit/source.zip\n",
    )
    config = config_from_yaml(text)
    app = cdk.App(outdir=str(tmp_path))
    stack = DeliveryStack(app, "Delivery", config=config, env=cdk.Environment(account=TOOLING, region="eu-west-1"))
    template = Template.from_stack(stack)
    source = template.find_resources("AWS::CodePipeline::Pipeline")
    action = next(iter(source.values()))["Properties"]["Stages"][0]["Actions"][0]
    assert action["ActionTypeId"]["Provider"] == "S3"
    assert action["Configuration"]["S3ObjectKey"] == "kit/source.zip"
    template.has_output("SourceBucketName", {})


# --- each project's build pipeline ------------------------------------------------------------


def stage_project(delivery: DeliveryStack, environment: str, name: str = "credit-risk") -> cdk.Stack:
    stage = next(s for s in delivery.stages if s.environment.name == environment)
    return stage.platform.projects[name]


def test_only_the_training_environment_builds_and_it_promotes_in_order(delivery: DeliveryStack) -> None:
    pipelines = {env: Template.from_stack(stage_project(delivery, env)).find_resources("AWS::CodePipeline::Pipeline")
                 for env in ("dev", "staging", "production")}
    assert {env: len(found) for env, found in pipelines.items()} == {"dev": 1, "staging": 0, "production": 0}
    build = next(iter(pipelines["dev"].values()))["Properties"]
    assert build["Name"] == "mlops-credit-risk-build"
    assert [stage["Name"] for stage in build["Stages"]] == ["Source", "Test", "Update", "PromoteStaging", "PromoteProduction"]
    by_name = {stage["Name"]: stage["Actions"] for stage in build["Stages"]}
    assert [a["ActionTypeId"]["Category"] for a in by_name["PromoteStaging"]] == ["Build"]
    production = sorted(by_name["PromoteProduction"], key=lambda action: action["RunOrder"])
    assert [a["ActionTypeId"]["Category"] for a in production] == ["Approval", "Build"]
    assert production[0]["RunOrder"] < production[1]["RunOrder"]


def test_project_build_watches_its_folder_of_the_kit_repository(delivery: DeliveryStack) -> None:
    template = Template.from_stack(stage_project(delivery, "dev"))
    build = next(iter(template.find_resources("AWS::CodePipeline::Pipeline").values()))["Properties"]
    source = build["Stages"][0]["Actions"][0]["Configuration"]
    assert (source["FullRepositoryId"], source["BranchName"]) == ("my-org/sagemaker-mlops-kit", "main")
    push = build["Triggers"][0]["GitConfiguration"]["Push"][0]
    assert push["FilePaths"]["Includes"] == ["projects/credit-risk/**"]
    for project in template.find_resources("AWS::CodeBuild::Project").values():
        commands = json.loads(project["Properties"]["Source"]["BuildSpec"])["phases"]["build"]["commands"]
        # The seed's pipeline.py imports mlops_kit from the checked-out kit repository.
        assert commands[:2] == ['export PYTHONPATH="$CODEBUILD_SRC_DIR${PYTHONPATH:+:$PYTHONPATH}"', "cd projects/credit-risk"]


def test_promotion_assumes_exactly_the_later_accounts_promotion_roles(delivery: DeliveryStack) -> None:
    template = Template.from_stack(stage_project(delivery, "dev"))
    build = next(iter(template.find_resources("AWS::CodePipeline::Pipeline").values()))["Properties"]
    targets = {}
    for stage in build["Stages"]:
        for action in stage["Actions"]:
            if action["Name"].startswith(("Promote", "UpdateAndRun")):
                variables = {v["name"]: v["value"] for v in json.loads(resolve_partition(action["Configuration"]["EnvironmentVariables"]))}
                targets[variables["TARGET_ENVIRONMENT"]] = (variables["TARGET_ACCOUNT"], variables["ASSUME_ROLE_ARN"], variables["START_RUN"])
    assert targets == {
        "dev": (DEV, "", "true"),
        "staging": (STAGING, f"arn:aws:iam::{STAGING}:role/mlops-pipeline-promotion", "false"),
        "production": (PRODUCTION, f"arn:aws:iam::{PRODUCTION}:role/mlops-pipeline-promotion", "false"),
    }
    assumed = [s for p in template.find_resources("AWS::IAM::Policy").values() for s in p["Properties"]["PolicyDocument"]["Statement"]
               if "sts:AssumeRole" in json.dumps(s["Action"])]
    # Besides the pipeline's own action roles, only the promotion roles of the later accounts.
    named = [r for s in assumed for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]) if isinstance(r, str)]
    assert sorted(named) == [f"arn:aws:iam::{account}:role/mlops-pipeline-promotion" for account in (STAGING, PRODUCTION)]
    others = [r for s in assumed for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]) if not isinstance(r, str)]
    assert all("CodePipelineActionRole" in r["Fn::GetAtt"][0] for r in others), others


def resolve_partition(value: Any) -> str:
    """CDK writes ARNs with the partition as a reference; the accounts are literal here."""
    return joined(value, "aws")


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_later_environments_let_the_promotion_role_rebuild_only_this_project(delivery: DeliveryStack, environment: str) -> None:
    stack = stage_project(delivery, environment)
    stage = next(s for s in delivery.stages if s.environment.name == environment)
    assert stage.access is not None and stage.access in stack.dependencies
    template = Template.from_stack(stack)
    attached = [p["Properties"] for p in template.find_resources("AWS::IAM::Policy").values()
                if p["Properties"]["Roles"] == ["mlops-pipeline-promotion"]]
    assert len(attached) == 1
    granted = attached[0]["PolicyDocument"]["Statement"]
    actions = {action for s in granted for action in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert "ssm:GetParameter" in actions and "s3:PutObject" in actions
    assert not any(a.startswith(("iam:", "sts:", "sagemaker:")) for a in actions)
    puts = [s for s in granted if "s3:PutObject" in s["Action"]]
    assert all(json.dumps(s["Resource"]).endswith('/pipeline-code/*"]]}') for s in puts)


def test_with_an_s3_kit_source_projects_build_from_a_zip_in_their_own_bucket(tmp_path: Path) -> None:
    """Closed networks: the kit's repository as a zip, uploaded to the project bucket; polled without data events."""
    text = THREE_ACCOUNTS.read_text()
    start, end = text.index("  source:\n"), text.index("  notification_email:")
    (tmp_path / "kit.yaml").write_text(text[:start] + "  source:\n    kind: s3\n" + text[end:])
    config = load_config(tmp_path / "kit.yaml", projects_dir=ROOT / "projects")
    app = cdk.App(context=feature_flags(), outdir=str(tmp_path / "out"))
    stage = PlatformStage(
        app, "Dev", config=config, environment=config.delivery.environments[0], training_account=DEV, projects_dir=ROOT / "projects"
    )
    template = Template.from_stack(stage.platform.projects["credit-risk"])
    build = next(iter(template.find_resources("AWS::CodePipeline::Pipeline").values()))["Properties"]
    source = build["Stages"][0]["Actions"][0]
    bucket = next(iter(template.find_resources("AWS::S3::Bucket", {"Properties": {"VersioningConfiguration": {"Status": "Enabled"}}})))
    assert source["ActionTypeId"]["Provider"] == "S3"
    assert source["Configuration"]["S3ObjectKey"] == "seed-code/credit-risk.zip"
    assert source["Configuration"]["S3Bucket"] == {"Ref": bucket}
    assert source["Configuration"]["PollForSourceChanges"] is True
    for project in template.find_resources("AWS::CodeBuild::Project").values():
        assert "cd projects/credit-risk" in json.loads(project["Properties"]["Source"]["BuildSpec"])["phases"]["build"]["commands"]


# --- the deploy flow across accounts: train in dev, serve in staging and production -----------


def project_template(delivery: DeliveryStack, environment: str) -> Template:
    return Template.from_stack(stage_project(delivery, environment))


def test_dev_deploys_nothing_and_forwards_approvals_to_exactly_the_later_accounts(delivery: DeliveryStack) -> None:
    template = project_template(delivery, "dev")
    assert template.find_resources("AWS::StepFunctions::StateMachine") == {}
    assert template.find_resources("AWS::SageMaker::Endpoint") == {}
    rules = [r["Properties"] for r in template.find_resources("AWS::Events::Rule").values()
             if r["Properties"].get("Description", "").startswith("Approved packages of")]
    assert len(rules) == 1
    assert rules[0]["EventPattern"]["detail"] == {"ModelPackageGroupName": ["mlops-credit-risk"], "ModelApprovalStatus": ["Approved"]}
    buses = sorted(resolve_partition(target["Arn"]) for target in rules[0]["Targets"])
    assert buses == [f"arn:aws:events:eu-west-1:{account}:event-bus/default" for account in (STAGING, PRODUCTION)]
    reads = [s for p in template.find_resources("AWS::S3::BucketPolicy").values() for s in p["Properties"]["PolicyDocument"]["Statement"]
             if s.get("Sid") == "ServingAccountsReadModelArtifacts"]
    assert len(reads) == 1 and reads[0]["Action"] == "s3:GetObject"
    assert accounts_in(reads[0]["Principal"]) == {STAGING, PRODUCTION}
    assert json.dumps(reads[0]["Resource"]).endswith('/pipeline/*/models/*"]]}')


def test_dev_data_key_lets_exactly_the_serving_accounts_decrypt_through_s3(delivery: DeliveryStack) -> None:
    stage = next(s for s in delivery.stages if s.environment.name == "dev")
    keys = Template.from_stack(stage.platform.backbone).find_resources("AWS::KMS::Key")
    statements_ = [s for k in keys.values() for s in k["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == "ServingAccountsDecryptModelArtifacts"]
    assert len(statements_) == 1
    assert accounts_in(statements_[0]["Principal"]) == {STAGING, PRODUCTION}
    assert statements_[0]["Action"] == ["kms:Decrypt", "kms:DescribeKey"]
    assert statements_[0]["Condition"] == {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}
    for environment in ("staging", "production"):
        other = next(s for s in delivery.stages if s.environment.name == environment)
        assert "ServingAccountsDecryptModelArtifacts" not in json.dumps(Template.from_stack(other.platform.backbone).to_json())


@pytest.mark.parametrize(("environment", "deployed", "absent"), [
    ("staging", "mlops-credit-risk-staging", "mlops-credit-risk-production"),
    ("production", "mlops-credit-risk-production", "mlops-credit-risk-staging"),
])
def test_each_serving_account_deploys_its_own_part_of_the_flow(delivery: DeliveryStack, environment: str, deployed: str, absent: str) -> None:
    template = project_template(delivery, environment)
    machines = template.find_resources("AWS::StepFunctions::StateMachine")
    assert len(machines) == 1
    definition = json.dumps(next(iter(machines.values()))["Properties"]["DefinitionString"])
    assert deployed in definition and absent not in definition
    # The approval (task token over SNS) is the production account's: promotion is decided there.
    assert ("AskForProductionApproval" in definition) == (environment == "production")
    # and so are its approval topic and the rollback alarms' topic
    assert len(template.find_resources("AWS::SNS::Topic")) == (2 if environment == "production" else 0)


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_serving_accounts_use_exactly_the_training_accounts_packages_and_models(delivery: DeliveryStack, environment: str) -> None:
    template = project_template(delivery, environment)
    granted = [s for p in template.find_resources("AWS::IAM::Policy").values() for s in p["Properties"]["PolicyDocument"]["Statement"]]
    by_sid = {s["Sid"]: s for s in granted if "Sid" in s}
    packages = by_sid["UseTrainingAccountPackages"]
    assert packages["Action"] == "sagemaker:DescribeModelPackage"
    assert resolve_partition(packages["Resource"]) == f"arn:aws:sagemaker:eu-west-1:{DEV}:model-package/mlops-credit-risk/*"
    assert by_sid["ReadTrainingAccountModelArtifacts"]["Condition"] == {"StringEquals": {"s3:ResourceAccount": DEV}}
    decrypt = by_sid["DecryptTrainingAccountModelArtifacts"]
    assert resolve_partition(decrypt["Resource"]) == f"arn:aws:kms:eu-west-1:{DEV}:key/*"
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}


def test_later_accounts_take_sagemaker_events_from_the_training_account_only(delivery: DeliveryStack) -> None:
    for stage in delivery.stages[1:]:
        assert stage.access is not None
        policies = Template.from_stack(stage.access).find_resources("AWS::Events::EventBusPolicy")
        assert len(policies) == 1
        statement = next(iter(policies.values()))["Properties"]["Statement"]
        assert accounts_in(statement["Principal"]) == {DEV}
        assert statement["Action"] == "events:PutEvents"
        assert statement["Condition"] == {"StringEquals": {"events:source": "aws.sagemaker"}}
