"""Tier 3: three projects on one platform, each isolated from the others."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from mlops_kit.bootstrap import create_project
from mlops_kit.config import KitConfig, load_config
from mlops_kit.config.project import PROJECT_TEMPLATES
from mlops_kit.pipelines import TEMPLATES
from mlops_kit.stacks.project import ProjectStack
from tests.conftest import ROOT, joined, nag_problems, synth_app

PROJECTS = {"churn": "tabular-training", "fraud": "tabular-training", "scoring": "batch-inference"}
OWNER = "arn:aws:iam::111122223333:role/ChurnTeam"
FRAUD_REPOSITORY = "fraud-team/fraud-models"
FRAUD_MODEL_QUALITY = """  drift_features: [amount, merchant]
  model_quality:
    ground_truth_s3_uri: s3://fraud-labels/ground-truth/
    problem_type: BinaryClassification
    thresholds: {auc: 0.8, recall: 0.6}
"""
CONNECTION = "arn:aws:codeconnections:eu-west-1:111122223333:connection/1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d"

# Actions that AWS authorises only on "*" (no resource-level permissions).
UNSCOPED_ACTIONS = {
    "ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability",
    "cloudwatch:PutMetricData", "ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface", "ec2:DeleteNetworkInterfacePermission", "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups",
    "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets",
    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
    # The approvers' answer to the task token: these actions take no resource-level permissions.
    "states:SendTaskSuccess", "states:SendTaskFailure",
    "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
    "application-autoscaling:RegisterScalableTarget", "application-autoscaling:PutScalingPolicy",
}


@pytest.fixture(scope="module")
def platform_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("three-projects")
    (folder / "kit.yaml").write_text((ROOT / "kit.yaml").read_text())
    kit = load_config(folder / "kit.yaml")
    for name, template in PROJECTS.items():
        owners = [OWNER] if name == "churn" else []
        create_project(projects_dir=folder / "projects", kit=kit, name=name, template=template, owners=owners)
        kit = load_config(folder / "kit.yaml")
    # fraud keeps its seed code in a repository of its own: with delivery off, that alone
    # gives it a build pipeline (the others have nothing to watch).
    fraud = folder / "projects" / "fraud.yaml"
    fraud.write_text(fraud.read_text().replace("  # repository: my-org/fraud", f"  repository: {FRAUD_REPOSITORY}\n  connection_arn: {CONNECTION}"))
    # fraud also watches model quality against ground truth (the nag pack and the alarms see it).
    text = fraud.read_text()
    assert "  schedule: daily             # hourly | daily\n" in text
    fraud.write_text(text.replace("  schedule: daily             # hourly | daily\n", "  schedule: daily\n" + FRAUD_MODEL_QUALITY, 1))
    return folder


@pytest.fixture(scope="module")
def config(platform_dir: Path) -> KitConfig:
    return load_config(platform_dir / "kit.yaml")


@pytest.fixture(scope="module")
def app(config: KitConfig, platform_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> cdk.App:
    return synth_app(config, tmp_path_factory.mktemp("three-projects-out"), projects_dir=platform_dir / "projects")


def project_stack(app: cdk.App, name: str) -> ProjectStack:
    stack = app.node.find_child(f"Project-{name}")
    assert isinstance(stack, ProjectStack)
    return stack


def statements(template: Template) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for resource in template.find_resources(kind).values():
            found.extend(resource["Properties"]["PolicyDocument"]["Statement"])
    for role in template.find_resources("AWS::IAM::Role").values():
        for policy in role["Properties"].get("Policies", []):
            found.extend(policy["PolicyDocument"]["Statement"])
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_every_project_gets_its_stack(app: cdk.App, config: KitConfig) -> None:
    assert [p.name for p in config.projects] == sorted(PROJECTS)
    for name in PROJECTS:
        assert project_stack(app, name).stack_name == f"mlops-project-{name}"


@pytest.mark.parametrize("name", sorted(PROJECTS))
def test_project_stacks_are_nag_clean(app: cdk.App, name: str) -> None:
    assert nag_problems(project_stack(app, name)) == []


@pytest.mark.parametrize(("owner", "other"), [("churn", "fraud"), ("fraud", "churn"), ("scoring", "churn"), ("churn", "scoring")])
def test_roles_of_one_project_grant_nothing_on_another(app: cdk.App, owner: str, other: str) -> None:
    template = Template.from_stack(project_stack(app, owner))
    for statement in statements(template):
        resources = json.dumps(as_list(statement.get("Resource", [])))
        # nothing names the other project's group, pipeline, endpoints or bucket prefix
        assert f"mlops-{other}" not in resources, statement
        # nothing reaches every kit resource through a prefix wildcard
        for pattern in ("model-package-group/mlops-*", "pipeline/mlops-*", "endpoint/mlops-*", "model-package/mlops-*", "arn:aws:s3:::*"):
            assert pattern not in resources, statement
        if as_list(statement.get("Resource")) == ["*"] and statement["Effect"] == "Allow":
            assert set(as_list(statement["Action"])) <= UNSCOPED_ACTIONS, statement


def test_execution_role_registers_only_in_its_own_group(app: cdk.App) -> None:
    template = Template.from_stack(project_stack(app, "churn"))
    register = [s for s in statements(template) if "sagemaker:CreateModelPackage" in as_list(s["Action"])]
    assert register
    for statement in register:
        assert "mlops-churn" in json.dumps(statement["Resource"])
        assert statement["Condition"] == {"StringEquals": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}}


def test_only_owners_assume_the_team_role(app: cdk.App) -> None:
    template = Template.from_stack(project_stack(app, "churn"))
    template.has_resource_properties("AWS::IAM::Role", {
        "Description": Match.string_like_regexp("project team of churn"),
        "AssumeRolePolicyDocument": {"Statement": [Match.object_like({"Principal": {"AWS": OWNER}})]},
    })


def test_model_package_group_and_data_are_retained(app: cdk.App) -> None:
    template = Template.from_stack(project_stack(app, "churn"))
    template.has_resource("AWS::SageMaker::ModelPackageGroup", {"DeletionPolicy": "Retain", "Properties": Match.object_like({"ModelPackageGroupName": "mlops-churn"})})
    for bucket in template.find_resources("AWS::S3::Bucket").values():
        assert bucket["DeletionPolicy"] == "Retain"
        assert bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"


def test_pipeline_definition_is_json_with_every_token_resolved(app: cdk.App) -> None:
    stack = project_stack(app, "churn")
    template = Template.from_stack(stack)
    pipeline = next(iter(template.find_resources("AWS::SageMaker::Pipeline").values()))
    body = pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]
    parts = body["Fn::Join"][1]
    # Every token became a CloudFormation function; with those filled in, the text is JSON.
    text = "".join(part if isinstance(part, str) else "RESOLVED" for part in parts)
    assert "${Token[" not in json.dumps(body)
    definition = json.loads(text)
    names = [step["Name"] for step in definition["Steps"]]
    assert names[:4] == ["Preprocess", "DataQualityBaseline", "Train", "Evaluate"]


def test_the_synthesized_pipeline_registers_packages_with_their_baseline(app: cdk.App) -> None:
    template = Template.from_stack(project_stack(app, "churn"))
    pipeline = next(iter(template.find_resources("AWS::SageMaker::Pipeline").values()))
    parts = pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Join"][1]
    # The analyzer image comes from the stack's per-region mapping, like the scikit-learn image.
    images = [part for part in parts if isinstance(part, dict) and "Fn::FindInMap" in part]
    assert any(part["Fn::FindInMap"][0] == "MonitorImages" for part in images)
    definition = json.loads("".join(part if isinstance(part, str) else "RESOLVED" for part in parts))
    baseline = next(step for step in definition["Steps"] if step["Name"] == "DataQualityBaseline")
    assert baseline["Type"] == "QualityCheck" and baseline["CheckType"] == "DATA_QUALITY"
    gate = next(step for step in definition["Steps"] if step["Type"] == "Condition")
    register = next(step for step in gate["Arguments"]["IfSteps"] if step["Type"] == "RegisterModel")
    assert "DataQualityBaseline" in register["DependsOn"]
    files = register["Arguments"]["DriftCheckBaselines"]["ModelDataQuality"]
    assert files == register["Arguments"]["ModelMetrics"]["ModelDataQuality"]
    assert [files[k]["S3Uri"]["Std:Join"]["Values"][-1] for k in ("Statistics", "Constraints")] == ["statistics.json", "constraints.json"]


def test_model_quality_monitoring_appears_when_configured_and_its_alarms_notify(app: cdk.App) -> None:
    fraud, churn = (Template.from_stack(project_stack(app, name)) for name in ("fraud", "churn"))
    (machine,) = fraud.find_resources("AWS::StepFunctions::StateMachine").values()
    text = json.dumps(machine["Properties"]["DefinitionString"])
    assert "createModelQualityJobDefinition" in text and "s3://fraud-labels/ground-truth/" in text and '\\"ModelQuality\\"' in text
    (plain,) = churn.find_resources("AWS::StepFunctions::StateMachine").values()
    assert "createModelQualityJobDefinition" not in json.dumps(plain["Properties"]["DefinitionString"])
    alarms = {a["Properties"]["AlarmDescription"]: a["Properties"] for a in fraud.find_resources("AWS::CloudWatch::Alarm").values()}
    quality = {d: a for d, a in alarms.items() if "model-quality" in d}
    assert sorted(a["MetricName"] for a in quality.values()) == ["auc", "recall"]
    for alarm in quality.values():
        assert alarm["Namespace"] == "aws/sagemaker/Endpoints/model-metrics" and alarm["ComparisonOperator"] == "LessThanThreshold"
        assert {d["Name"] for d in alarm["Dimensions"]} == {"Endpoint", "MonitoringSchedule"}
    for description, alarm in alarms.items():
        assert "AlarmTopic" in json.dumps(alarm["AlarmActions"]), description


def test_deploy_flow_starts_on_approved_packages_of_its_own_group_only(app: cdk.App) -> None:
    template = Template.from_stack(project_stack(app, "churn"))
    template.has_resource_properties("AWS::Events::Rule", {
        "EventPattern": {
            "source": ["aws.sagemaker"],
            "detail-type": ["SageMaker Model Package State Change"],
            "detail": {"ModelPackageGroupName": ["mlops-churn"], "ModelApprovalStatus": ["Approved"]},
        },
        "Targets": [Match.object_like({"Arn": {"Ref": Match.string_like_regexp("DeploymentStateMachine")}})],
    })


def test_deploy_flow_goes_staging_then_approval_then_production(app: cdk.App) -> None:
    template = Template.from_stack(project_stack(app, "churn"))
    machine = next(iter(template.find_resources("AWS::StepFunctions::StateMachine").values()))
    text = json.dumps(machine["Properties"]["DefinitionString"])
    order = [text.index(marker) for marker in ("CreateStagingEndpoint", "AskForProductionApproval", "CreateProductionEndpoint", "RegisterScalableTarget", "CreateDataQualityMonitoring")]
    assert order == sorted(order)
    assert "waitForTaskToken" in text
    # Staging is instance-backed by default (serverless takes no VPC): tests/local/test_flow_definition.py.
    assert "ServerlessConfig" not in text and "DataCaptureConfig" in text and "CANARY" in text
    assert "RunsNewConfig" in text  # the live config is checked after every update


def test_batch_project_has_no_endpoints(app: cdk.App) -> None:
    template = Template.from_stack(project_stack(app, "scoring"))
    template.resource_count_is("AWS::StepFunctions::StateMachine", 0)
    template.resource_count_is("AWS::SageMaker::Pipeline", 1)


def test_budget_and_cost_tags(app: cdk.App) -> None:
    template = Template.from_stack(project_stack(app, "churn"))
    template.has_resource_properties("AWS::Budgets::Budget", {
        "Budget": Match.object_like({"BudgetLimit": {"Amount": 500, "Unit": "USD"}, "CostFilters": {"TagKeyValue": ["user:kit:project$churn"]}}),
    })
    template.has_resource_properties("AWS::S3::Bucket", {
        "Tags": Match.array_with([{"Key": "kit:owner", "Value": "ChurnTeam"}, {"Key": "kit:project", "Value": "churn"}, {"Key": "kit:tier", "Value": "3"}]),
    })


def test_dashboard_shows_pipeline_endpoints_and_drift(app: cdk.App) -> None:
    template = Template.from_stack(project_stack(app, "churn"))
    dashboard = next(iter(template.find_resources("AWS::CloudWatch::Dashboard").values()))
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for needle in ("ExecutionFailed", "ModelLatency", "Invocation5XXErrors", "feature_baseline_drift"):
        assert needle in body


def test_projects_read_the_platform_through_ssm_not_exports(app: cdk.App) -> None:
    body = json.dumps(Template.from_stack(project_stack(app, "churn")).to_json())
    assert "Fn::ImportValue" not in body
    assert "/mlops/platform/data-key-arn" in body


def test_project_templates_are_the_pipeline_templates() -> None:
    assert set(PROJECT_TEMPLATES) == set(TEMPLATES)


# --- the pipeline context and the build pipeline -------------------------------------------


def json_with_references(value: Any) -> Any:
    """JSON text that CloudFormation joins with deploy-time references, read with "REF" in their place."""
    return json.loads(joined(value, "REF"))


@pytest.mark.parametrize("name", sorted(PROJECTS))
def test_pipeline_context_holds_every_builder_argument_but_the_code(app: cdk.App, name: str) -> None:
    """What the seed's pipeline.py reads: the template's builder must accept exactly these arguments."""
    stack = project_stack(app, name)
    template = Template.from_stack(stack)
    parameters = template.find_resources("AWS::SSM::Parameter", {"Properties": {"Name": f"/mlops/projects/{name}/pipeline-context"}})
    assert len(parameters) == 1
    document = json_with_references(next(iter(parameters.values()))["Properties"]["Value"])
    assert document["version"] == 1 and document["template"] == PROJECTS[name]
    builder = inspect.signature(TEMPLATES[PROJECTS[name]].build).parameters
    required = {n for n, p in builder.items() if p.default is inspect.Parameter.empty} - {"code_uris"}
    assert required <= set(document["arguments"]) <= set(builder) - {"code_uris"}
    assert document["arguments"]["pipeline_name"] == f"mlops-{name}"


def test_only_a_project_with_a_source_gets_a_build_pipeline(app: cdk.App) -> None:
    counts = {name: len(Template.from_stack(project_stack(app, name)).find_resources("AWS::CodePipeline::Pipeline")) for name in PROJECTS}
    assert counts == {"churn": 0, "fraud": 1, "scoring": 0}


def test_own_repository_build_tests_updates_and_runs_without_promotion(app: cdk.App) -> None:
    template = Template.from_stack(project_stack(app, "fraud"))
    pipeline = next(iter(template.find_resources("AWS::CodePipeline::Pipeline").values()))["Properties"]
    assert pipeline["Name"] == "mlops-fraud-build"
    assert [stage["Name"] for stage in pipeline["Stages"]] == ["Source", "Test", "Update"]
    source = pipeline["Stages"][0]["Actions"][0]["Configuration"]
    assert (source["FullRepositoryId"], source["BranchName"], source["ConnectionArn"]) == (FRAUD_REPOSITORY, "main", CONNECTION)
    # A repository of its own: every push counts, no folder filter.
    assert "FilePaths" not in json.dumps(pipeline["Triggers"])
    update = json_with_references(pipeline["Stages"][2]["Actions"][0]["Configuration"]["EnvironmentVariables"])
    variables = {v["name"]: v["value"] for v in update}
    assert variables["PIPELINE_CONTEXT_PARAMETER"] == "/mlops/projects/fraud/pipeline-context"
    assert variables["START_RUN"] == "true" and variables["ASSUME_ROLE_ARN"] == ""


def test_build_role_may_rebuild_only_its_own_project(app: cdk.App) -> None:
    template = Template.from_stack(project_stack(app, "fraud"))
    roles = template.find_resources("AWS::IAM::Role", {"Properties": {"RoleName": "mlops-fraud-build"}})
    assert len(roles) == 1
    role_id = next(iter(roles))
    granted = [
        s for policy in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"] for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    text = json.dumps(granted)
    assert "pipeline/mlops-fraud" in text and "sts:AssumeRole" not in text
    puts = [s for s in granted if "s3:PutObject" in as_list(s["Action"])]
    assert puts and all(json.dumps(s["Resource"]).endswith('/pipeline-code/*"]]}') for s in puts), puts
    context = next(iter(template.find_resources("AWS::SSM::Parameter", {"Properties": {"Name": "/mlops/projects/fraud/pipeline-context"}})))
    reads = [s for s in granted if "ssm:GetParameter" in as_list(s["Action"])]
    assert reads and all(json.dumps({"Ref": context}) in json.dumps(s["Resource"]) for s in reads), reads
