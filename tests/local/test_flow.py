"""The deploy flow executed in the embedded AWS: event shim, EventBridge -> Step Functions, staging,
approval by token through SNS -> SQS, production, the update path and a duplicate event.

One server and one deploy of ``flow_app``'s instance stack for the module; the tests run in
file order and build on each other (v1, then v2), as the flow's life does.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from mlops_kit.local import EmbeddedAws, deploy_assembly
from mlops_kit.local import deploy_flow as flow

from .flow_app import BASE, GROUP, IMAGE

pytestmark = pytest.mark.integration
STAGING, PRODUCTION = f"{BASE}-staging", f"{BASE}-production"


@pytest.fixture(scope="module")
def env(flow_assembly: Path, aws: EmbeddedAws) -> dict[str, Any]:
    result = deploy_assembly(flow_assembly, aws, stacks=["FlowInstance"], cdk_command=False)
    assert result.ok, [(r.logical_id, r.reason) for s in result.stacks for r in s.results if r.outcome == "failed"]
    sfn = aws.client("stepfunctions")
    machines = [m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]]
    assert len(machines) == 1
    aws.client("sagemaker").create_model_package_group(ModelPackageGroupName=GROUP)
    topic = flow.project_resource(aws.client, "FlowInstance", "AWS::SNS::Topic", "ApprovalTopic")
    inbox = flow.ApprovalInbox(aws.client, topic)
    # A probe on the default bus: every SageMaker package event, whatever its status.
    sqs, events = aws.client("sqs"), aws.client("events")
    probe = sqs.create_queue(QueueName="sagemaker-events")["QueueUrl"]
    probe_arn = sqs.get_queue_attributes(QueueUrl=probe, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="all-package-events", EventPattern=json.dumps({"source": ["aws.sagemaker"]}))
    events.put_targets(Rule="all-package-events", Targets=[{"Id": "probe", "Arn": probe_arn}])
    return {"machine": machines[0], "inbox": inbox, "probe": probe}


def _baseline(artifact: str) -> dict[str, Any]:
    """Where the pipeline's DataQualityBaseline step writes a run's files (tabular_training)."""
    return {
        kind: {"ContentType": "application/json", "S3Uri": f"s3://artifacts/{artifact}/baseline/{kind.lower()}.json"}
        for kind in ("Statistics", "Constraints")
    }


def _register(aws: EmbeddedAws, artifact: str, *, baseline: bool = True) -> str:
    return str(
        aws.client("sagemaker").create_model_package(
            ModelPackageGroupName=GROUP,
            ModelApprovalStatus="PendingManualApproval",
            **({"DriftCheckBaselines": {"ModelDataQuality": _baseline(artifact)}} if baseline else {}),
            InferenceSpecification={
                "Containers": [{"Image": IMAGE, "ModelDataUrl": f"s3://artifacts/{artifact}/model.tar.gz"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )["ModelPackageArn"]
    )


def _probe_events(aws: EmbeddedAws, queue: str) -> list[dict[str, Any]]:
    sqs, found = aws.client("sqs"), []
    for _ in range(5):
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        found += [json.loads(m["Body"]) for m in messages]
        if not messages and found:
            break
        time.sleep(0.1)
    return found


def _deploy_version(aws: EmbeddedAws, env: dict[str, Any], package: str) -> tuple[str, flow.FlowRun, flow.ApprovalRequest]:
    """Approve through UpdateModelPackage only, read the request from the queue, answer it."""
    aws.client("sagemaker").update_model_package(ModelPackageArn=package, ModelApprovalStatus="Approved")
    execution = flow.wait_for_start(aws.client, env["machine"], package, known=set())
    waiting = flow.wait_for(aws.client, execution, state=flow.WAITING_STATE)
    assert waiting.status == "RUNNING", (waiting.error, waiting.cause)
    request = env["inbox"].receive()
    aws.client("stepfunctions").send_task_success(taskToken=request.task_token, output="{}")
    return execution, flow.wait_for(aws.client, execution), request


def test_event_shim_sends_model_package_state_changes(aws: EmbeddedAws, env: dict[str, Any]) -> None:
    package = _register(aws, "v1")
    env["v1"] = package
    (created,) = _probe_events(aws, env["probe"])
    assert created["detail-type"] == "SageMaker Model Package State Change"
    assert created["resources"] == [package]
    assert created["detail"]["ModelApprovalStatus"] == "PendingManualApproval"
    assert created["detail"]["ModelPackageGroupName"] == GROUP and created["detail"]["ModelPackageVersion"] == 1
    # The rule filters on Approved: a pending package starts nothing.
    assert flow.executions_for(aws.client, env["machine"], package) == []


def test_approval_starts_the_flow_and_it_deploys_staging_then_production(aws: EmbeddedAws, env: dict[str, Any]) -> None:
    _execution, run, request = _deploy_version(aws, env, env["v1"])
    assert run.status == "SUCCEEDED", (run.last_state, run.error, run.cause)
    approved = [e for e in _probe_events(aws, env["probe"]) if e["detail"]["ModelApprovalStatus"] == "Approved"]
    assert len(approved) == 1
    assert request.model_package == env["v1"] and request.approve.endswith("--task-output {}")
    assert "'" not in request.approve  # no quoting for a shell or States.Format to mangle
    for name, config in ((STAGING, f"{STAGING}-v1"), (PRODUCTION, f"{PRODUCTION}-v1")):
        state = flow.endpoint(aws.client, name)
        assert (state["status"], state["config"]) == ("InService", config)
        env[f"{name}-v1"] = state
    staging_config = aws.client("sagemaker").describe_endpoint_config(EndpointConfigName=f"{STAGING}-v1")
    assert staging_config["ProductionVariants"][0]["InstanceType"] == "ml.t2.medium"
    model = aws.client("sagemaker").describe_model(ModelName=f"{BASE}-v1")
    assert model["VpcConfig"]["Subnets"] == ["subnet-0a", "subnet-0b"]
    targets = aws.client("application-autoscaling").describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert [t["ResourceId"] for t in targets] == [f"endpoint/{PRODUCTION}/variant/AllTraffic"]
    schedules = aws.client("sagemaker").list_monitoring_schedules(EndpointName=PRODUCTION)["MonitoringScheduleSummaries"]
    assert [s["MonitoringScheduleName"] for s in schedules] == [f"{PRODUCTION}-data-quality"]
    assert "CreateStagingEndpoint" in run.states and "CreateProductionEndpoint" in run.states
    assert {"DescribeApprovedPackage", "CreateDataQualityMonitoring"} <= set(run.states)


def test_the_schedule_monitors_against_the_approved_packages_baseline(aws: EmbeddedAws, env: dict[str, Any]) -> None:
    """Read back through DescribeMonitoringSchedule: the flow passed v1's own BaselineConfig."""
    schedule = aws.client("sagemaker").describe_monitoring_schedule(MonitoringScheduleName=f"{PRODUCTION}-data-quality")
    job = schedule["MonitoringScheduleConfig"]["MonitoringJobDefinition"]
    assert job["BaselineConfig"] == {
        "ConstraintsResource": {"S3Uri": "s3://artifacts/v1/baseline/constraints.json"},
        "StatisticsResource": {"S3Uri": "s3://artifacts/v1/baseline/statistics.json"},
    }
    assert job["MonitoringInputs"][0]["EndpointInput"]["EndpointName"] == PRODUCTION


def test_second_version_takes_the_update_path(aws: EmbeddedAws, env: dict[str, Any]) -> None:
    env["v2"] = package = _register(aws, "v2")
    _execution, run, _request = _deploy_version(aws, env, package)
    assert run.status == "SUCCEEDED", (run.last_state, run.error, run.cause)
    assert {"UpdateStagingEndpoint", "UpdateProductionEndpoint", "UpdateDataQualityMonitoring"} <= set(run.states)
    assert not {"CreateStagingEndpoint", "CreateProductionEndpoint"} & set(run.states)
    for name in (STAGING, PRODUCTION):
        before, after = env[f"{name}-v1"], flow.endpoint(aws.client, name)
        assert (after["arn"], after["created"]) == (before["arn"], before["created"])  # updated, not re-created
        assert (after["status"], after["config"]) == ("InService", f"{name}-v2")
        env[f"{name}-v2"] = after
    # Each approved version carries its own baseline: the schedule now checks against v2's.
    schedule = aws.client("sagemaker").describe_monitoring_schedule(MonitoringScheduleName=f"{PRODUCTION}-data-quality")
    baseline = schedule["MonitoringScheduleConfig"]["MonitoringJobDefinition"]["BaselineConfig"]
    assert baseline["StatisticsResource"]["S3Uri"] == "s3://artifacts/v2/baseline/statistics.json"


def test_a_duplicate_approval_event_deploys_nothing(aws: EmbeddedAws, env: dict[str, Any]) -> None:
    package = env["v2"]
    known = set(flow.executions_for(aws.client, env["machine"], package))
    detail = {"ModelPackageGroupName": GROUP, "ModelPackageArn": package, "ModelPackageVersion": 2, "ModelApprovalStatus": "Approved"}
    aws.client("events").put_events(
        Entries=[{"Source": "aws.sagemaker", "DetailType": "SageMaker Model Package State Change", "Detail": json.dumps(detail)}]
    )
    run = flow.wait_for(aws.client, flow.wait_for_start(aws.client, env["machine"], package, known=known))
    assert (run.status, run.last_state) == ("SUCCEEDED", "AlreadyDeploying")
    assert "CreateStagingEndpointConfig" not in run.states
    assert flow.endpoint(aws.client, PRODUCTION)["modified"] == env[f"{PRODUCTION}-v2"]["modified"]


def test_shim_update_endpoint_refuses_an_unknown_config(aws: EmbeddedAws, env: dict[str, Any]) -> None:
    sm = aws.client("sagemaker")
    with pytest.raises(sm.exceptions.ClientError, match="Could not find endpoint configuration"):
        sm.update_endpoint(EndpointName=STAGING, EndpointConfigName="no-such-config")
    with pytest.raises(sm.exceptions.ClientError, match="Cannot create already existing model"):
        sm.create_model(ModelName=f"{BASE}-v1", ExecutionRoleArn="arn:aws:iam::123456789012:role/x", PrimaryContainer={"Image": IMAGE})
