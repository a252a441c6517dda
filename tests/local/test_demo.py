"""Fast tests of the demo's pieces that need no server (the flow itself: tests/integration)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from mlops_kit.local.demo import (
    FAILED,
    PASSED,
    SKIPPED,
    DemoReport,
    DemoStep,
    _feature_parquet,
    render_demo_table,
    run_flow,
)
from mlops_kit.local.deploy_flow import FlowError, parse_request
from mlops_kit.local.server import AwsEndpoint
from mlops_kit.local.verify import Verifier

GROUP = "mlops-credit-risk"
PACKAGE = f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}/3"


def test_approval_request_must_carry_the_token_as_sent() -> None:
    body = {
        "model_package": PACKAGE,
        "task_token": "tok/en+1=",
        "approve": "aws stepfunctions send-task-success --task-token tok/en+1= --task-output {}",
        "reject": "aws stepfunctions send-task-failure --error Rejected --task-token tok/en+1=",
    }
    request = parse_request(json.dumps(body))
    assert (request.task_token, request.model_package) == ("tok/en+1=", PACKAGE)
    mangled = dict(body, approve="aws stepfunctions send-task-success --task-output \\'{}\\' --task-token tok")
    with pytest.raises(FlowError, match="approve command does not carry the token"):
        parse_request(json.dumps(mangled))


def test_package_event_has_the_fields_the_rule_filters_on() -> None:
    from types import SimpleNamespace

    from mlops_kit.local.moto_shims import package_event

    package = SimpleNamespace(
        model_package_group_name=GROUP, model_package_version=3, arn=PACKAGE, model_package_name=GROUP,
        model_approval_status="Approved", creation_time="t0", last_modified_time="t1",
    )
    entry = package_event(package, "123456789012", "us-east-1")
    assert (entry["Source"], entry["DetailType"], entry["Resources"]) == ("aws.sagemaker", "SageMaker Model Package State Change", [PACKAGE])
    detail = json.loads(entry["Detail"])
    assert {k: detail[k] for k in ("ModelPackageGroupName", "ModelPackageArn", "ModelPackageVersion", "ModelApprovalStatus")} == {
        "ModelPackageGroupName": GROUP, "ModelPackageArn": PACKAGE, "ModelPackageVersion": 3, "ModelApprovalStatus": "Approved",
    }


def test_feature_records_fit_the_group_definition() -> None:
    group = {
        "EventTimeFeatureName": "event_time",
        "RecordIdentifierFeatureName": "customer_id",
        "FeatureDefinitions": [
            {"FeatureName": "customer_id", "FeatureType": "String"},
            {"FeatureName": "event_time", "FeatureType": "Fractional"},
            {"FeatureName": "tenure_months", "FeatureType": "Integral"},
            {"FeatureName": "monthly_spend", "FeatureType": "Fractional"},
        ],
    }
    body, rows = _feature_parquet(group, datetime(2026, 1, 2, tzinfo=UTC), rows=5)
    frame = pd.read_parquet(io.BytesIO(body))
    assert rows == len(frame) == 5
    assert frame["customer_id"].is_unique
    assert str(frame["tenure_months"].dtype).startswith("int")
    assert {"write_time", "api_invocation_time", "is_deleted"} <= set(frame.columns)


def test_table_marks_each_step_and_the_report_fails_on_one_failed_check() -> None:
    report = DemoReport(
        project_stack="mlops-project-x",
        steps=[
            DemoStep(1, "upload training data", PASSED, "402 rows", 0.1),
            DemoStep(2, "approval event routed", SKIPPED, "moto delivered nothing", 0.2),
        ],
    )
    assert report.ok
    text = render_demo_table(report)
    assert "end-to-end flow on mlops-project-x: ok" in text
    assert f" 2  {SKIPPED}" in text
    report.steps.append(DemoStep(3, "retained data", FAILED, "missing: bucket", 0.0))
    assert not report.ok
    assert "FAILED" in render_demo_table(report)


def test_fails_if_the_assembly_has_no_project(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text('{"version": "36.0.0", "artifacts": {}}')
    report = run_flow(AwsEndpoint("http://127.0.0.1:1"), tmp_path)
    assert not report.ok
    assert len(report.steps) == 1
    assert "no Project-* stack" in report.steps[0].detail


def test_event_bus_without_a_physical_id_is_checked_by_its_name() -> None:
    asked: list[str] = []

    class Events:
        def describe_event_bus(self, Name: str) -> dict[str, str]:
            asked.append(Name)
            return {"Name": Name}

    verifier = Verifier(lambda service: Events())
    assert verifier.check("AWS::Events::EventBus", "", {"Name": "mlops-model-registry"}) is None
    assert asked == ["mlops-model-registry"]
    assert verifier.check("AWS::Events::EventBus", "", {}) == "CloudFormation reports no physical id"


def test_bucket_policies_with_conditional_denies_are_not_applied() -> None:
    from mlops_kit.local import service_api

    deny_http = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
    called: list[str] = []
    outcome = service_api.create(
        lambda service: called.append(service),
        "Policy",
        "AWS::S3::BucketPolicy",
        {"Bucket": "b", "PolicyDocument": deny_http},
        {"account_id": "123456789012", "region": "us-east-1"},
    )
    assert not outcome.created and not outcome.failed
    assert "aws:SecureTransport" in outcome.reason
    assert called == ["s3"]  # a client, but no call on it
