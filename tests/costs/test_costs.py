"""mlops-kit cost: the price table, each priced type, and the shipped and lean platforms' estimates."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_ssm as ssm
from aws_cdk import aws_stepfunctions as sfn

from mlops_kit.checks import lint, stack_templates
from mlops_kit.config import load_config
from mlops_kit.costs import Estimate, estimate, load_prices
from tests.conftest import ROOT, nag_problems, synth_app

TABLE = load_prices()


# --- the price table ---------------------------------------------------------------------------

def test_price_table_has_a_date_region_and_source_for_every_price() -> None:
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", TABLE.date)
    assert TABLE.region == "us-east-1"
    assert TABLE.hours_per_month == 730
    for key, price in TABLE.prices.items():
        assert price.price >= 0 and price.unit.startswith("per "), key
        assert price.region in ("us-east-1", "all"), key
        assert price.source.startswith("https://") and "amazon.com" in price.source, key
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", price.date), key
        assert isinstance(price.checked, bool) and price.note, key


def test_price_table_prices_each_idle_item_the_kit_creates() -> None:
    assert set(TABLE.prices) == {
        "interface_endpoint_az_hour", "nat_gateway_hour", "kms_key_month", "mlflow_server_small_hour",
        "mlflow_server_medium_hour", "mlflow_server_large_hour", "dashboard_month", "alarm_metric_month", "budget_day",
        "ssm_advanced_parameter_month", "feature_store_online_gb_month", "endpoint_instance_hour",
    }
    assert (TABLE["dashboard_month"].free, TABLE["alarm_metric_month"].free, TABLE["budget_day"].free) == (3, 10, 2)
    assert TABLE["feature_store_online_gb_month"].usage  # $0 while empty: listed, never in the idle total
    assert TABLE["endpoint_instance_hour"].instance_types["ml.m5.large"] == TABLE["endpoint_instance_hour"].price
    assert "AWS::SageMaker::MlflowApp" in TABLE.usage_based


# --- each priced type, from one synthesized stack --------------------------------------------------

def _every_priced_type(app: cdk.App) -> None:
    stack = cdk.Stack(app, "Priced")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=1)
    vpc.add_interface_endpoint("Sts", service=ec2.InterfaceVpcEndpointAwsService.STS)
    kms.Key(stack, "Key")
    kms.Key(stack, "Key2")
    sagemaker.CfnMlflowTrackingServer(stack, "Server", tracking_server_name="s", artifact_store_uri="s3://b/p", role_arn="arn:aws:iam::111122223333:role/mlflow", tracking_server_size="Medium")
    sagemaker.CfnMlflowApp(stack, "App", name="a", artifact_store_uri="s3://b/p", role_arn="arn:aws:iam::111122223333:role/mlflow")
    for index in range(4):
        cloudwatch.Dashboard(stack, f"Dash{index}")
    metric = cloudwatch.Metric(namespace="AWS/SageMaker", metric_name="Invocations")
    for index in range(12):
        metric.create_alarm(stack, f"Alarm{index}", threshold=1, evaluation_periods=1)
    for index in range(3):
        budgets.CfnBudget(stack, f"Budget{index}", budget=budgets.CfnBudget.BudgetDataProperty(budget_type="COST", time_unit="MONTHLY"))
    ssm.StringParameter(stack, "Advanced", string_value="x", tier=ssm.ParameterTier.ADVANCED)
    ssm.StringParameter(stack, "Standard", string_value="x")
    variants = {"ProductionVariants": [{"VariantName": "A", "InstanceType": "ml.m5.large", "InitialInstanceCount": 2}]}
    definition = {
        "StartAt": "CreateProductionEndpointConfig",
        "States": {"CreateProductionEndpointConfig": {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createEndpointConfig", "Parameters": variants, "End": True}},
    }
    sfn.StateMachine(stack, "Flow", definition_body=sfn.DefinitionBody.from_string(json.dumps(definition)))


@pytest.fixture(scope="module")
def priced(tmp_path_factory: pytest.TempPathFactory) -> Estimate:
    outdir = tmp_path_factory.mktemp("priced")
    app = cdk.App(outdir=str(outdir))
    _every_priced_type(app)
    app.synth()
    return estimate(outdir)


@pytest.mark.parametrize(("item", "quantity", "monthly"), [
    ("interface endpoint-AZs", 2, 2 * 0.01 * 730),
    ("NAT gateways", 1, 0.045 * 730),
    ("KMS customer managed keys", 2, 2.0),
    ("MLflow tracking server (Medium)", 1, 1.31 * 730),
    ("CloudWatch dashboards", 4, 12.0),
    ("CloudWatch alarm metrics", 12, 1.2),
    ("AWS Budgets", 3, 3 * 0.02 * 30.42),
    ("advanced SSM parameters", 1, 0.05),
])
def test_each_priced_type_is_counted_and_priced(priced: Estimate, item: str, quantity: float, monthly: float) -> None:
    [line] = [line for line in priced.lines if line.item == item]
    assert line.quantity == quantity
    assert line.monthly == pytest.approx(monthly, abs=0.01)


def test_free_allowances_come_off_the_account_total(priced: Estimate) -> None:
    assert priced.free_credit() == pytest.approx({"dashboards": 9.0, "alarm metrics": 1.0, "budgets": 2 * 0.02 * 30.42})
    assert priced.idle_total == pytest.approx(priced.stack_total("Priced") - 9.0 - 1.0 - 2 * 0.02 * 30.42)


def test_endpoints_are_listed_apart_at_their_minimum_count(priced: Estimate) -> None:
    [line] = priced.after_deploy
    assert (line.item, line.quantity, line.monthly) == ("production endpoint: 2 x ml.m5.large", 2, round(2 * 0.115 * 730, 2))
    assert "After a deploy" in priced.render()
    assert priced.idle_total < priced.idle_total + priced.after_deploy_total


def test_usage_based_items_are_listed_not_priced(priced: Estimate) -> None:
    assert priced.unpriced["Priced"]["AWS::SageMaker::MlflowApp"] == 1
    assert "no idle compute charge" in priced.render()


# --- the shipped and lean platforms ----------------------------------------------------------------

def independent_count(assembly: Path) -> float:
    """The same templates counted another way: resource types straight from the JSON, times the table."""
    hourly, month = TABLE.hours_per_month, 1.0
    total = 0.0
    seen: Counter[str] = Counter()
    for path in assembly.glob("*.template.json"):
        for resource in json.loads(path.read_text())["Resources"].values():
            seen[resource["Type"]] += 1
            if resource["Type"] == "AWS::EC2::VPCEndpoint" and resource["Properties"].get("VpcEndpointType") == "Interface":
                total += len(resource["Properties"]["SubnetIds"]) * TABLE["interface_endpoint_az_hour"].price * hourly
    total += seen["AWS::KMS::Key"] * TABLE["kms_key_month"].price * month
    total += seen["AWS::EC2::NatGateway"] * TABLE["nat_gateway_hour"].price * hourly
    total += seen["AWS::SageMaker::MlflowTrackingServer"] * TABLE["mlflow_server_small_hour"].price * hourly
    total += max(0, seen["AWS::CloudWatch::Dashboard"] - 3) * TABLE["dashboard_month"].price
    total += max(0, seen["AWS::CloudWatch::Alarm"] - 10) * TABLE["alarm_metric_month"].price
    total += max(0, seen["AWS::Budgets::Budget"] - 2) * TABLE["budget_day"].price * 30
    return total


@pytest.fixture(scope="module")
def shipped(default_app: cdk.App) -> Estimate:
    return estimate(Path(default_app.outdir))


def test_shipped_platform_idles_under_200_a_month(shipped: Estimate) -> None:
    assert shipped.idle_total < 200
    assert not any(line.item.startswith("MLflow tracking server") for line in shipped.lines)


def test_estimate_agrees_with_an_independent_count(default_app: cdk.App, shipped: Estimate) -> None:
    independent = independent_count(Path(default_app.outdir))
    assert independent > 0
    assert abs(shipped.idle_total - independent) <= 0.2 * independent


def test_readme_cost_paragraph_is_the_commands_output(shipped: Estimate) -> None:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- cost:begin -->\n```text\n(.*?)\n```\n<!-- cost:end -->", readme, re.S)
    assert block is not None, "README.md lost its cost block"
    assert block.group(1) == shipped.render(), "README cost block is stale: paste `mlops-kit cost` output"


@pytest.fixture(scope="module")
def lean(tmp_path_factory: pytest.TempPathFactory) -> tuple[cdk.App, Estimate]:
    # The platform alone: a kit.yaml without projects/ beside it reads the checkout's projects.
    config = load_config(ROOT / "examples" / "lean" / "kit.yaml").model_copy(update={"projects": ()})
    assert config.network.az_count == 1
    app = synth_app(config, tmp_path_factory.mktemp("lean"), projects_dir=None)
    return app, estimate(Path(app.outdir))


def test_lean_profile_idles_under_80_a_month(lean: tuple[cdk.App, Estimate]) -> None:
    _, result = lean
    assert result.idle_total < 80
    [endpoints] = [line for line in result.lines if line.item == "interface endpoint-AZs"]
    assert endpoints.quantity == 10  # one AZ, only what Studio, MLflow and the platform need


def test_lean_profile_passes_nag_and_cfn_lint(lean: tuple[cdk.App, Estimate]) -> None:
    app, _ = lean
    for stack in app.node.children:
        if isinstance(stack, cdk.Stack):
            assert nag_problems(stack) == [], stack.stack_name
    for name, template in stack_templates(Path(app.outdir)).items():
        errors, _ = lint(template)
        assert errors == [], name


def test_lean_profile_says_what_it_gives_up() -> None:
    text = (ROOT / "examples" / "lean" / "kit.yaml").read_text()
    assert "Availability-zone resilience" in text and "Feature Store: off" in text


def test_a_pinned_other_region_is_marked_not_scaled(tmp_path: Path) -> None:
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Far", env=cdk.Environment(account="111122223333", region="eu-west-1"))
    kms.Key(stack, "Key")
    app.synth()
    result = estimate(tmp_path)
    assert result.idle_total == 1.0
    assert "eu-west-1: us-east-1 prices, not scaled" in result.render()


