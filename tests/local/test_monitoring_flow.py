"""The deploy flow's monitoring part, executed by moto's ASL interpreter (in-process ``mock_aws``
with execution on) from ``DescribeApprovedPackage`` on: the approved package's baseline goes into
the data-quality schedule, model quality gets its job definition and schedule when configured,
and a package without a baseline gets no data-quality schedule. The definitions are the
synthesized ones of ``flow_app`` (``FlowMonitored``, ``FlowInstance``); the monitoring APIs moto
lacks come from the kit's shims (``moto_shims``), as in the embedded AWS.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mlops_kit.local import moto_shims

from .flow_app import BASE, GROUP, IMAGE, MODEL_QUALITY
from .test_flow_definition import ACCOUNT, REGION, _definition

PRODUCTION = f"{BASE}-production"
BASELINE = {
    kind: {"ContentType": "application/json", "S3Uri": f"s3://artifacts/v7/baseline/{kind.lower()}.json"} for kind in ("Statistics", "Constraints")
}


@pytest.fixture(scope="module", autouse=True)
def shims() -> None:
    moto_shims.install()


def _run(definition: dict[str, Any], *, baseline: bool) -> tuple[dict[str, Any], list[str], Any]:
    """Start the synthesized definition at DescribeApprovedPackage for a registered package."""
    definition = dict(definition, StartAt="DescribeApprovedPackage")
    sm = boto3.client("sagemaker", region_name=REGION)
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    package = sm.create_model_package(
        ModelPackageGroupName=GROUP,
        ModelApprovalStatus="Approved",
        InferenceSpecification={"Containers": [{"Image": IMAGE, "ModelDataUrl": "s3://artifacts/v7/model.tar.gz"}],
                                "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
        **({"DriftCheckBaselines": {"ModelDataQuality": BASELINE}} if baseline else {}),
    )["ModelPackageArn"]
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(name="monitoring", definition=json.dumps(definition), roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn")
    execution = sfn.start_execution(
        stateMachineArn=machine["stateMachineArn"],
        input=json.dumps({"detail": {"ModelPackageArn": package, "ModelPackageVersion": 7}}),
    )["executionArn"]
    deadline = time.monotonic() + 30
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the monitoring part did not end"
        time.sleep(0.1)
    history = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
    states = [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
    return described, states, sm


def test_the_schedule_gets_the_packages_baseline_and_model_quality_its_definition(flow_assembly: Path) -> None:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):  # type: ignore[arg-type]
        described, states, sm = _run(_definition(flow_assembly, "FlowMonitored"), baseline=True)
        assert described["status"] == "SUCCEEDED", (states, described.get("error"), described.get("cause"))
        assert {"CreateDataQualityMonitoring", "CreateModelQualityJobDefinition", "CreateModelQualityMonitoring"} <= set(states)
        data = sm.describe_monitoring_schedule(MonitoringScheduleName=f"{PRODUCTION}-data-quality")["MonitoringScheduleConfig"]
        assert data["MonitoringJobDefinition"]["BaselineConfig"] == {
            "ConstraintsResource": {"S3Uri": BASELINE["Constraints"]["S3Uri"]},
            "StatisticsResource": {"S3Uri": BASELINE["Statistics"]["S3Uri"]},
        }
        assert data["ScheduleConfig"]["ScheduleExpression"] == "cron(0 * ? * * *)"
        quality = sm.describe_monitoring_schedule(MonitoringScheduleName=f"{PRODUCTION}-model-quality")["MonitoringScheduleConfig"]
        assert (quality["MonitoringType"], quality["MonitoringJobDefinitionName"]) == ("ModelQuality", f"{BASE}-mq-v7")
        job = sm.describe_model_quality_job_definition(JobDefinitionName=f"{BASE}-mq-v7")
        assert job["ModelQualityAppSpecification"]["ProblemType"] == MODEL_QUALITY.problem_type
        assert job["ModelQualityJobInput"]["GroundTruthS3Input"]["S3Uri"] == MODEL_QUALITY.ground_truth_s3_uri
        assert job["ModelQualityJobInput"]["EndpointInput"]["EndpointName"] == PRODUCTION
        assert job["NetworkConfig"]["VpcConfig"]["Subnets"] == ["subnet-0a", "subnet-0b"]


def test_a_package_without_a_baseline_gets_no_data_quality_schedule(flow_assembly: Path) -> None:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):  # type: ignore[arg-type]
        described, states, sm = _run(_definition(flow_assembly, "FlowInstance"), baseline=False)
        assert described["status"] == "SUCCEEDED", (states, described.get("error"), described.get("cause"))
        assert "NoBaselineToMonitor" in states and "CreateDataQualityMonitoring" not in states
        assert sm.list_monitoring_schedules()["MonitoringScheduleSummaries"] == []
