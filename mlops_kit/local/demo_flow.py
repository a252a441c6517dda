"""The demo's model life: train and register (v1), approve, staging, approval by token, production,
then a second version trained on new data through the flow's update path, and a duplicate approval event.

Split from ``demo`` (which owns the steps before and after: outputs, data, feature records,
destroy, retained data). Each function is one numbered demo step's body: it returns the detail
line, raises ``CheckFailed`` when what it finds is wrong, and records what later steps need in
``facts``. The deploy flow is only ever driven from the outside (``deploy_flow``).
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from mlops_kit.local import deploy_flow as flow

Clients = Callable[[str], Any]
APPROVAL_DETAIL_TYPE = "SageMaker Model Package State Change"


class CheckFailed(Exception):
    """A check of the flow did not hold; the message says what was found."""


def _train(aws: Any, facts: dict[str, Any], input_uri: str, progress: Callable[[str], None]) -> tuple[Any, dict[str, Any], str]:
    """The project's pipeline, run by the local runner on ``input_uri``: the run, its package and a summary."""
    # The one seam where training happens: ``pipeline_runner.run_pipeline`` (issue 11 item 1).
    from mlops_kit.local.pipeline_runner import run_pipeline

    workdir = Path(tempfile.mkdtemp(prefix="mlops-kit-demo-"))
    run = run_pipeline(
        aws,
        facts["pipeline"],
        parameters={"InputDataUri": input_uri},
        workdir=workdir,
        progress=lambda line: progress(f"          {line.strip()}"),
    )
    facts["pipeline_caveats"] = list(run.caveats)
    # The DataQualityBaseline step runs AWS's analyzer image, which does not run here: the
    # runner reports it NotRun and the package still registers its baseline's URIs.
    if not run.ok_but_checks or not run.model_package_arn:
        failed = [f"{s.name} {s.status}: {s.detail}" for s in run.steps if s.status != "Succeeded" and s.status != "Skipped"]
        raise CheckFailed(f"pipeline run {run.status}: {'; '.join(failed) or run.failure_reason or 'no package registered'}")
    sm, s3 = aws.client("sagemaker"), aws.client("s3")
    package = sm.describe_model_package(ModelPackageName=run.model_package_arn)
    model_url = package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    bucket, _, key = model_url.removeprefix("s3://").partition("/")
    size = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
    if not key.endswith("model.tar.gz") or size == 0:
        raise CheckFailed(f"the package's ModelDataUrl {model_url} is not a model.tar.gz with content ({size} bytes)")
    baseline = place_fixture_baseline(s3, package)
    metric = facts.get("metric_name", "accuracy")
    value = run.metrics.get(metric)
    summary = (
        f"{len(run.steps)} steps {run.status} in {run.seconds:.1f} s; {metric} {value if value is not None else '?'} "
        f"({run.gate}); {run.model_package_arn.split('/', 1)[-1]} {package['ModelApprovalStatus']}, "
        f"model.tar.gz {size} bytes; {baseline}"
    )
    return run, package, summary


def run_training(aws: Any, facts: dict[str, Any], progress: Callable[[str], None]) -> str:
    """v1: the project's pipeline on the uploaded data, a real model and metric."""
    run, package, summary = _train(aws, facts, facts["data_uri"].rsplit("/", 1)[0] + "/", progress)
    container = package["InferenceSpecification"]["Containers"][0]
    facts.update(
        baseline=package.get("DriftCheckBaselines"), package=run.model_package_arn, model_url=container["ModelDataUrl"],
        metrics=dict(run.metrics), image=container["Image"],
    )
    return summary


FIXTURE_BASELINE = {kind: Path(__file__).with_name(f"fixture_baseline_{kind.lower()}.json") for kind in ("Statistics", "Constraints")}


def place_fixture_baseline(s3: Any, package: dict[str, Any]) -> str:
    """Put the shipped fixture baseline (precomputed, in Model Monitor's format; not computed by
    this run) where the package's DriftCheckBaselines point, since the analyzer did not run."""
    files = (package.get("DriftCheckBaselines") or {}).get("ModelDataQuality") or {}
    if set(files) != set(FIXTURE_BASELINE):
        raise CheckFailed(f"the package registers no data-quality baseline (DriftCheckBaselines: {package.get('DriftCheckBaselines')})")
    for kind, path in FIXTURE_BASELINE.items():
        bucket, _, key = files[kind]["S3Uri"].removeprefix("s3://").partition("/")
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), ContentType="application/json")
    folder = files["Statistics"]["S3Uri"].rsplit("/", 1)[0]
    return f"baseline registered ({folder}/), fixture files placed there: the analyzer step does not run locally"


def pending_starts_nothing(clients: Clients, facts: dict[str, Any]) -> str:
    """The registration sent a PendingManualApproval event; the rule must not have started the flow."""
    started = flow.executions_for(clients, facts["state_machine"], facts["package"])
    if started:
        raise CheckFailed(f"{len(started)} execution(s) started for a package that is still PendingManualApproval")
    return "the PendingManualApproval event of the new package started no execution (the rule filters on Approved)"


def subscribe(clients: Clients, facts: dict[str, Any]) -> flow.ApprovalInbox:
    topic = flow.project_resource(clients, facts["stack"], "AWS::SNS::Topic", "ApprovalTopic")
    return flow.ApprovalInbox(clients, topic)


def approve_and_reach_staging(clients: Clients, facts: dict[str, Any], package: str, *, label: str) -> str:
    """UpdateModelPackage(Approved) and nothing else: the flow must start and deploy staging by itself."""
    machine = facts["state_machine"]
    known = set(flow.executions_for(clients, machine, package))
    clients("sagemaker").update_model_package(
        ModelPackageArn=package, ModelApprovalStatus="Approved", ApprovalDescription=f"approved by the mlops-kit demo ({label})"
    )
    execution = flow.wait_for_start(clients, machine, package, known=known)
    run = flow.wait_for(clients, execution, state=flow.WAITING_STATE)
    if run.status != "RUNNING":
        raise CheckFailed(f"execution {run.status} at {run.last_state} before asking for approval: {run.error} {run.cause}".strip())
    staging = flow.endpoint(clients, facts["staging_endpoint"])
    version = package.rsplit("/", 1)[-1]
    if staging["status"] != "InService" or not staging["config"].endswith(f"-v{version}"):
        raise CheckFailed(f"{facts['staging_endpoint']} is {staging['status']} on {staging['config']}, expected InService on *-v{version}")
    facts[f"execution_{label}"] = execution
    facts[f"staging_{label}"] = staging
    return f"execution {execution.rsplit(':', 1)[-1][:8]} started by the approval event; {facts['staging_endpoint']} InService on {staging['config']}; waiting for approval"


def receive_request(inbox: flow.ApprovalInbox, facts: dict[str, Any], package: str, *, label: str) -> str:
    request = inbox.receive()
    if request.model_package != package:
        raise CheckFailed(f"the request is for {request.model_package}, expected {package}")
    facts[f"request_{label}"] = request
    return f"on the SQS queue subscribed to the topic: approve with `{request.approve[:60]}...`"


def approve_production(clients: Clients, facts: dict[str, Any], *, label: str) -> str:
    """SendTaskSuccess with the token from the message; production, live config, autoscaling, monitoring."""
    request: flow.ApprovalRequest = facts[f"request_{label}"]
    clients("stepfunctions").send_task_success(taskToken=request.task_token, output="{}")
    run = flow.wait_for(clients, facts[f"execution_{label}"])
    if run.status != "SUCCEEDED":
        raise CheckFailed(f"execution {run.status} at {run.last_state}: {run.error} {run.cause}".strip())
    production = flow.endpoint(clients, facts["production_endpoint"])
    version = request.model_package.rsplit("/", 1)[-1]
    if production["status"] != "InService" or not production["config"].endswith(f"-v{version}"):
        raise CheckFailed(f"{facts['production_endpoint']} is {production['status']} on {production['config']}")
    targets = clients("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="sagemaker", ResourceIds=[f"endpoint/{facts['production_endpoint']}/variant/AllTraffic"]
    )["ScalableTargets"]
    schedules = clients("sagemaker").list_monitoring_schedules(EndpointName=facts["production_endpoint"])["MonitoringScheduleSummaries"]
    if not targets or not schedules:
        raise CheckFailed(f"{len(targets)} scalable target(s), {len(schedules)} monitoring schedule(s) for {facts['production_endpoint']}")
    schedule = clients("sagemaker").describe_monitoring_schedule(MonitoringScheduleName=schedules[0]["MonitoringScheduleName"])
    baseline = schedule["MonitoringScheduleConfig"]["MonitoringJobDefinition"].get("BaselineConfig", {})
    # The approved version's own baseline: v2 was trained again and carries its own files.
    approved = clients("sagemaker").describe_model_package(ModelPackageName=request.model_package)
    expected = (approved.get("DriftCheckBaselines") or {}).get("ModelDataQuality", {})
    if baseline.get("StatisticsResource", {}).get("S3Uri") != expected.get("Statistics", {}).get("S3Uri"):
        raise CheckFailed(f"the monitoring schedule's BaselineConfig {baseline} is not the package's baseline {expected}")
    facts[f"production_{label}"] = production
    facts[f"run_{label}"] = run
    return (
        f"SUCCEEDED: {facts['production_endpoint']} InService on {production['config']} (live config checked), "
        f"autoscaling {targets[0]['MinCapacity']}-{targets[0]['MaxCapacity']}, monitoring {schedules[0]['MonitoringScheduleStatus']} "
        "against the package's baseline"
    )


def register_second_version(aws: Any, facts: dict[str, Any], progress: Callable[[str], None]) -> str:
    """v2: new data arrives under its own prefix and the pipeline runs again on it, registering a new package."""
    from mlops_kit.pipelines.steps.synthetic import generate

    key = facts["data_key"].replace("/raw/", "/raw-v2/")
    aws.client("s3").put_object(Bucket=facts["bucket"], Key=key, Body=generate(seed=2).to_csv(index=False).encode())
    run, _package, summary = _train(aws, facts, f"s3://{facts['bucket']}/{key.rsplit('/', 1)[0]}/", progress)
    facts["package_v2"] = run.model_package_arn
    facts["metrics_v2"] = dict(run.metrics)
    return f"trained on s3://{facts['bucket']}/{key}: {summary}"


def update_path(facts: dict[str, Any]) -> str:
    """v2 went through UpdateEndpoint on both endpoints: same ARNs and creation times, new configs."""
    run: flow.FlowRun = facts["run_v2"]
    problems = []
    for stage in ("staging", "production"):
        before, after = facts[f"{stage}_v1"], facts[f"{stage}_v2"]
        if (after["arn"], after["created"]) != (before["arn"], before["created"]):
            problems.append(f"{stage} endpoint re-created")
        if after["config"] == before["config"]:
            problems.append(f"{stage} still on {before['config']}")
    entered = set(run.states)
    for state in ("UpdateStagingEndpoint", "UpdateProductionEndpoint"):
        if state not in entered:
            problems.append(f"{state} not entered")
    for state in ("CreateStagingEndpoint", "CreateProductionEndpoint"):
        if state in entered:
            problems.append(f"{state} entered")
    if problems:
        raise CheckFailed("; ".join(problems))
    return (
        f"UpdateStagingEndpoint and UpdateProductionEndpoint: same endpoint ARNs, "
        f"{facts['staging_v1']['config']} -> {facts['staging_v2']['config']}, {facts['production_v1']['config']} -> {facts['production_v2']['config']}"
    )


def duplicate_event(clients: Clients, facts: dict[str, Any]) -> str:
    """AWS may deliver the approval event twice: the second execution must deploy nothing."""
    package = facts["package_v2"]
    machine = facts["state_machine"]
    known = set(flow.executions_for(clients, machine, package))
    detail = {
        "ModelPackageGroupName": facts["group"],
        "ModelPackageArn": package,
        "ModelPackageVersion": int(package.rsplit("/", 1)[-1]),
        "ModelApprovalStatus": "Approved",
    }
    answer = clients("events").put_events(
        Entries=[{"Source": "aws.sagemaker", "DetailType": APPROVAL_DETAIL_TYPE, "Detail": json.dumps(detail), "Resources": [package]}]
    )
    if answer.get("FailedEntryCount"):
        raise CheckFailed(f"PutEvents refused the duplicate: {answer['Entries']}")
    run = flow.wait_for(clients, flow.wait_for_start(clients, machine, package, known=known))
    after = flow.endpoint(clients, facts["production_endpoint"])
    if run.status != "SUCCEEDED" or run.last_state != "AlreadyDeploying":
        raise CheckFailed(f"the duplicate's execution {run.status} at {run.last_state}")
    if after["modified"] != facts["production_v2"]["modified"]:
        raise CheckFailed("the duplicate changed the production endpoint")
    return "a second delivery of v2's approval event ended in AlreadyDeploying; no endpoint touched"


def remove_flow_resources(clients: Clients, stack: str) -> str:
    """What ``mlops-kit destroy Project-NAME`` removes before the stack: the flow's runtime resources.

    Endpoints, endpoint configs, models, scalable targets and monitoring schedules are created by
    the deploy flow, not by CloudFormation, so deleting the stack alone would leave them billing.
    """
    from collections import Counter

    from mlops_kit.teardown import Planner, TeardownPlan, run_teardown

    prefix, _, project = stack.partition("-project-")
    planner = Planner(clients, prefix)
    steps = planner.project_steps(project)
    result = run_teardown(TeardownPlan([f"Project-{project}"], steps, [], planner.notes), timeout=60, poll=0.5)
    if not result.ok:
        raise CheckFailed("; ".join(result.failed))
    left = Planner(clients, prefix).project_steps(project)
    if left:
        raise CheckFailed(f"{len(left)} flow resource(s) still there: {', '.join(f'{s.kind} {s.name}' for s in left)}")
    kinds = Counter(step.kind for step in steps)
    return f"{len(steps)} deleted ({', '.join(f'{count} {kind}' for kind, count in sorted(kinds.items()))}), 0 left behind"


def feature_parquet(group: dict[str, Any], now: datetime, rows: int = 20) -> tuple[bytes, int]:
    """``rows`` records that fit the group's feature definitions, as the offline store's Parquet."""
    import pandas as pd

    event_time = group.get("EventTimeFeatureName")
    record_id = group.get("RecordIdentifierFeatureName")
    columns: dict[str, list[Any]] = {}
    for feature in group["FeatureDefinitions"]:
        name, kind = feature["FeatureName"], feature["FeatureType"]
        if name == event_time:
            values: list[Any] = [now.timestamp()] * rows if kind == "Fractional" else [now.isoformat()] * rows
        elif name == record_id:
            values = [f"demo-{i:04d}" for i in range(rows)]
        elif kind == "Integral":
            values = [(i * 7) % 72 + 1 for i in range(rows)]
        elif kind == "Fractional":
            values = [round(20.0 + i * 3.5, 2) for i in range(rows)]
        else:
            values = [f"value-{i}" for i in range(rows)]
        columns[name] = values
    # The offline store adds these columns to every record.
    columns["write_time"] = [now.isoformat()] * rows
    columns["api_invocation_time"] = [now.isoformat()] * rows
    columns["is_deleted"] = [False] * rows
    buffer = io.BytesIO()
    pd.DataFrame(columns).to_parquet(buffer, index=False)
    return buffer.getvalue(), rows
