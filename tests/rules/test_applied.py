"""The pack where it counts: on the kit's own synth, refusing an ML engineer's construct, silent on the shipped platform."""

from __future__ import annotations

import csv
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sagemaker as sm

from mlops_kit.nag import apply_checks, suppress
from mlops_kit.rules import RULES
from tests.conftest import feature_flags
from tests.rules._fixtures import ROLE


def _engineers_app(tmp_path: Path, *, accept_isolation: bool = False) -> cdk.App:
    """An ML engineer's own stack under the kit's checks (and cdk.json's flags): a model written without VPC settings."""
    app = cdk.App(context=feature_flags(), outdir=str(tmp_path))
    stack = cdk.Stack(app, "EngineerStack", env=cdk.Environment(account="123456789012", region="us-east-1"))
    model = sm.CfnModel(stack, "ChurnModel", execution_role_arn=ROLE,
                        primary_container=sm.CfnModel.ContainerDefinitionProperty(image="123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:1"))
    if accept_isolation:
        model.vpc_config = sm.CfnModel.VpcConfigProperty(security_group_ids=["sg-0123456789abcdef0"], subnets=["subnet-0123456789abcdef0"])
        suppress(model, "KitSageMaker-ModelVpcIsolation", "The churn container calls the scoring API of the CRM inside the VPC",
                 applies_to=["EnableNetworkIsolation"])
    apply_checks(app)
    return app


def test_fails_if_an_engineers_model_has_no_vpc_settings(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError) as error:
        _engineers_app(tmp_path).synth()
    text = (tmp_path / "validation-report.json").read_text()
    assert "KitSageMaker-ModelVpcIsolation" in str(error.value) and "AwsSolutions" not in str(error.value)
    assert "KitSageMaker-ModelVpcIsolation[VpcConfig]" in text and "KitSageMaker-ModelVpcIsolation[EnableNetworkIsolation]" in text
    assert "A SageMaker model (in the template or created by a deploy flow) lacks VpcConfig or network isolation" in text
    assert "EngineerStack/ChurnModel" in text


def test_a_narrow_suppression_accepts_one_finding_only(tmp_path: Path) -> None:
    _engineers_app(tmp_path, accept_isolation=True).synth()
    rows = list(csv.DictReader(next(tmp_path.glob("KitSageMaker-*EngineerStack-NagReport.csv")).open()))
    model = [row for row in rows if row["Resource ID"] == "EngineerStack/ChurnModel" and row["Rule ID"] == "KitSageMaker-ModelVpcIsolation"]
    assert [row["Compliance"] for row in model] == ["Suppressed"]
    assert "[EnableNetworkIsolation]" in model[0]["Exception Reason"]


def test_the_shipped_platform_is_checked_by_every_rule_that_applies(default_app: cdk.App) -> None:
    rows = [row for report in Path(default_app.outdir).rglob("KitSageMaker-*-NagReport.csv") for row in csv.DictReader(report.open())]
    checked = {row["Rule ID"] for row in rows if row["Compliance"] in ("Compliant", "Suppressed")}
    # One account: the registry has no resource policy (nobody else reads it), so that rule is N/A here;
    # the deploy flow's models and endpoint configs are read from its state machine.
    assert {f"KitSageMaker-{rule.id}" for rule in RULES} - checked == {"KitSageMaker-ModelPackageGroupPolicy"}
    assert not [row for row in rows if row["Compliance"] == "Non-Compliant"]
