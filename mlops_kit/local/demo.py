"""The end-to-end flow on the example project, run against the embedded AWS after a local deploy.

``run_demo(aws, assembly)`` takes the first ``Project-*`` stack of the cloud assembly and walks
the life of one model through what the deploy created:

1. the project stack's outputs (pipeline, model package group, data bucket)
2. a synthetic training CSV uploaded to the project bucket, where the pipeline reads it
3. the SageMaker pipeline started on it (moto records the execution; it runs no steps)
4. feature records written to the Feature Store offline store (moto has no Feature Store
   runtime, so ``PutRecord`` is not available: the records go to the offline store's S3 prefix
   as Parquet, where SageMaker would write them)
5. a model package registered in the group, pending manual approval
6. the package approved
7. the approval rule: an EventBridge rule that filters on the group and ``Approved`` and targets
   the deploy flow's state machine, which exists
8. the rule's pattern routed by moto's EventBridge: a probe rule with the *same* pattern and an
   SQS target receives the approval event and not the pending one (moto does not invoke Step
   Functions targets, hence the probe)
9. the deploy flow started with the approval event, as the rule would (moto records the
   execution; it does not run the SageMaker tasks)
10. the project stack destroyed
11. what is retained afterwards: the project bucket and its data, the model package group and
    the approved package, the shared buckets, the feature group and its offline data

Each step is printed as it finishes (``✓`` passed, ``✗`` failed, ``○`` not checkable here, with
the reason), then a table. ``run_demo`` returns ``False`` if any check failed.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import re
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from mlops_kit.local.assembly import StackArtifact, load_assembly
from mlops_kit.local.deploy import AwsTarget, DestroyReport, Progress, destroy_stack
from mlops_kit.local.report import FAILED as FAILED_OUTCOME

PASSED = "✓"
FAILED = "✗"
SKIPPED = "○"  # not checkable in the embedded AWS; the detail says why

DATA_KEY = "pipeline/raw/credit-risk-demo.csv"  # under the pipeline's InputDataUri default
MODEL_KEY = "pipeline/models/demo/model.tar.gz"
APPROVAL_DETAIL_TYPE = "SageMaker Model Package State Change"


class CheckFailed(Exception):
    """A check of the flow did not hold; the message says what was found."""


class Skipped(Exception):
    """The embedded AWS cannot show this; the message says why."""


@dataclass
class DemoStep:
    number: int
    title: str
    mark: str
    detail: str
    seconds: float


@dataclass
class DemoReport:
    project_stack: str = ""
    steps: list[DemoStep] = field(default_factory=list)
    destroy: DestroyReport | None = None
    facts: dict[str, Any] = field(default_factory=dict)  # what later steps and tests need

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.mark != FAILED for s in self.steps)

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.steps)

    def step(self, title_start: str) -> DemoStep:
        return next(s for s in self.steps if s.title.startswith(title_start))


def render_demo_table(report: DemoReport) -> str:
    """A row per step (number, result, seconds, step, detail), then the retained resources."""
    title_width = max([len("step"), *(len(s.title) for s in report.steps)])
    lines = [
        f"end-to-end flow on {report.project_stack or '(no project stack)'}: "
        f"{'ok' if report.ok else 'FAILED'} in {report.seconds:.1f} s",
        f"  {'#':>2}  {'':1}  {'s':>5}  {'step'.ljust(title_width)}  detail",
        "  " + "-" * (16 + title_width + 40),
    ]
    for s in report.steps:
        lines.append(f"  {s.number:>2}  {s.mark}  {s.seconds:5.1f}  {s.title.ljust(title_width)}  {s.detail}")
    if report.destroy is not None:
        d = report.destroy
        lines.append("")
        lines.append(
            f"  destroy {d.stack_name}: {len(d.deleted)} deleted, {len(d.retained)} retained, "
            f"{len(d.left_behind)} left behind{'; error: ' + d.error if d.error else ''}"
        )
        for r in d.retained:
            lines.append(f"    retained     {r.logical_id} ({r.cfn_type}) {r.physical_id}")
        for r in d.left_behind:
            lines.append(f"    left behind  {r.logical_id} ({r.cfn_type}): {r.reason}")
    return "\n".join(lines) + "\n"


class _Flow:
    def __init__(self, aws: AwsTarget, assembly: Path, progress: Progress) -> None:
        self.aws = aws
        self.assembly = assembly
        self.progress = progress
        self.report = DemoReport()
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.aws.client(service)
        return self._clients[service]

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[Callable[[str], None]]:
        """Run one numbered step: ``CheckFailed`` or any AWS error marks it failed, ``Skipped`` skipped."""
        details: list[str] = []
        started = time.monotonic()
        mark = PASSED
        try:
            yield details.append
        except Skipped as why:
            mark, details = SKIPPED, [*details, str(why)]
        except Exception as error:  # any error fails this step; the flow goes on
            text = str(error) if isinstance(error, CheckFailed) else f"{type(error).__name__}: {error}"
            text = text.strip().splitlines()[0] if text.strip() else type(error).__name__
            mark, details = FAILED, [*details, text]
        entry = DemoStep(
            len(self.report.steps) + 1, title, mark, "; ".join(details), time.monotonic() - started
        )
        self.report.steps.append(entry)
        self.progress(f"demo {entry.number:>2} {entry.mark} {title}: {entry.detail} ({entry.seconds:.1f} s)")

    def failed(self) -> bool:
        return not self.report.ok

    # -- the flow ----------------------------------------------------------------------------
    def run(self) -> DemoReport:
        facts = self.report.facts
        with self.step("project stack and its outputs") as say:
            project = self._project_stack()
            self.report.project_stack = project.stack_name
            stack = self.client("cloudformation").describe_stacks(StackName=project.stack_name)["Stacks"][0]
            outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs") or []}
            missing = [
                k for k in ("PipelineName", "ModelPackageGroupName", "DataBucketName") if not outputs.get(k)
            ]
            if missing:
                raise CheckFailed(
                    f"{project.stack_name} ({stack['StackStatus']}) lacks outputs {', '.join(missing)}"
                )
            facts.update(
                stack=project.stack_name,
                template=project.template(),
                pipeline=outputs["PipelineName"],
                group=outputs["ModelPackageGroupName"],
                bucket=outputs["DataBucketName"],
            )
            say(
                f"{project.stack_name} {stack['StackStatus']}: pipeline {facts['pipeline']}, "
                f"group {facts['group']}, bucket {facts['bucket']}"
            )
        if self.failed():
            return self.report  # nothing below can work without the stack's outputs

        with self.step("upload training data") as say:
            from mlops_kit.pipelines.steps.synthetic import generate

            body = generate().to_csv(index=False).encode()
            s3 = self.client("s3")
            s3.put_object(Bucket=facts["bucket"], Key=DATA_KEY, Body=body)
            size = s3.head_object(Bucket=facts["bucket"], Key=DATA_KEY)["ContentLength"]
            if size != len(body):
                raise CheckFailed(
                    f"s3://{facts['bucket']}/{DATA_KEY} has {size} bytes, {len(body)} were sent"
                )
            facts["data_uri"] = f"s3://{facts['bucket']}/{DATA_KEY}"
            rows = body.count(b"\n") - 1
            say(f"{rows} rows, {size} bytes -> {facts['data_uri']}")

        with self.step("start the SageMaker pipeline") as say:
            sm = self.client("sagemaker")
            arn = sm.start_pipeline_execution(
                PipelineName=facts["pipeline"],
                PipelineExecutionDisplayName="mlops-kit-demo",
                PipelineParameters=[
                    {"Name": "InputDataUri", "Value": facts["data_uri"].rsplit("/", 1)[0] + "/"}
                ],
                ClientRequestToken=uuid.uuid4().hex,
            )["PipelineExecutionArn"]
            described = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
            listed = [
                e["PipelineExecutionArn"]
                for e in sm.list_pipeline_executions(PipelineName=facts["pipeline"])[
                    "PipelineExecutionSummaries"
                ]
            ]
            if arn not in listed:
                raise CheckFailed(f"execution {arn} is not listed for pipeline {facts['pipeline']}")
            steps = len(
                json.loads(sm.describe_pipeline(PipelineName=facts["pipeline"])["PipelineDefinition"])[
                    "Steps"
                ]
            )
            facts["execution"] = arn
            say(
                f"execution {arn.rsplit('/', 1)[-1]} listed, status {described['PipelineExecutionStatus']} "
                f"({steps} steps defined; moto records executions and runs no jobs)"
            )

        with self.step("rebuild the pipeline from its published context") as say:
            say(self._rebuild_pipeline(facts))

        with self.step("write feature records to the offline store") as say:
            say(self._feature_records())

        with self.step("register a model package") as say:
            sm = self.client("sagemaker")
            self.client("s3").put_object(Bucket=facts["bucket"], Key=MODEL_KEY, Body=_placeholder_model())
            image = self._sklearn_image(facts["template"])
            arn = sm.create_model_package(
                ModelPackageGroupName=facts["group"],
                ModelPackageDescription="mlops-kit demo: placeholder artifact, no training ran",
                ModelApprovalStatus="PendingManualApproval",
                InferenceSpecification={
                    "Containers": [{"Image": image, "ModelDataUrl": f"s3://{facts['bucket']}/{MODEL_KEY}"}],
                    "SupportedContentTypes": ["text/csv"],
                    "SupportedResponseMIMETypes": ["text/csv"],
                },
            )["ModelPackageArn"]
            status = sm.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"]
            if status != "PendingManualApproval":
                raise CheckFailed(f"{arn} is {status}, expected PendingManualApproval")
            facts["package"] = arn
            say(f"{arn.split('/', 1)[-1]} PendingManualApproval, image {image.split('/', 1)[-1]}")

        with self.step("approve the model package") as say:
            if "package" not in facts:
                raise Skipped("no package was registered")
            sm = self.client("sagemaker")
            sm.update_model_package(
                ModelPackageArn=facts["package"],
                ModelApprovalStatus="Approved",
                ApprovalDescription="approved by the mlops-kit demo",
            )
            status = sm.describe_model_package(ModelPackageName=facts["package"])["ModelApprovalStatus"]
            approved = self._approved_packages(facts["group"])
            if status != "Approved" or facts["package"] not in approved:
                raise CheckFailed(f"{facts['package']} is {status} ({len(approved)} approved in the group)")
            say(f"Approved; {len(approved)} approved package(s) in {facts['group']}")

        with self.step("approval rule targets the deploy flow") as say:
            rule, pattern, machine = self._approval_rule(facts["group"])
            facts.update(rule=rule, pattern=pattern, state_machine=machine)
            described = self.client("stepfunctions").describe_state_machine(stateMachineArn=machine)
            states = json.loads(described["definition"]).get("States", {})
            say(
                f"rule {rule} (group {facts['group']}, Approved) -> state machine "
                f"{described['name']} {described.get('status', '')} with {len(states)} top-level states"
            )

        with self.step("approval event routed by the rule's pattern") as say:
            if "pattern" not in facts or "package" not in facts:
                raise Skipped("no approval rule or package to route")
            say(self._route_probe(facts["pattern"], facts["group"], facts["package"]))

        with self.step("deploy flow started with the approval event") as say:
            if "state_machine" not in facts or "package" not in facts:
                raise Skipped("no state machine or package")
            sfn = self.client("stepfunctions")
            event = _approval_event(self.aws, facts["group"], facts["package"], "Approved")
            execution = sfn.start_execution(
                stateMachineArn=facts["state_machine"],
                name=f"demo-{uuid.uuid4().hex[:12]}",
                input=json.dumps(event),
            )["executionArn"]
            status = sfn.describe_execution(executionArn=execution)["status"]
            say(
                f"execution {execution.rsplit(':', 1)[-1]} {status} "
                "(moto records it; staging, approval and production tasks are not run)"
            )

        with self.step(f"destroy {facts['stack']}") as say:
            destroyed = destroy_stack(self.aws, facts["stack"], progress=self.progress)
            self.report.destroy = destroyed
            if destroyed.error:
                raise CheckFailed(destroyed.error)
            gone = self._stack_gone(facts["stack"])
            missing = [
                f"{r.logical_id}: {r.reason}" for r in destroyed.retained if r.outcome == FAILED_OUTCOME
            ]
            if missing or not gone:
                raise CheckFailed(
                    "; ".join(missing + ([] if gone else [f"stack {facts['stack']} still listed as active"]))
                )
            say(
                f"stack deleted: {len(destroyed.deleted)} resources deleted, {len(destroyed.retained)} retained "
                f"(DeletionPolicy Retain), {len(destroyed.left_behind)} left behind"
                + (" (types moto cannot delete)" if destroyed.left_behind else "")
            )

        with self.step("retained data is still there") as say:
            say(self._retained(facts))
        return self.report

    # -- helpers -----------------------------------------------------------------------------
    def _rebuild_pipeline(self, facts: dict[str, Any]) -> str:
        """What the project build's Update step does: pipeline.py, then UpdatePipeline.

        The definition rebuilt from the published context must be the deployed one, step code
        locations aside (CDK assets there, the project bucket here).
        """
        from mlops_kit.pipelines.context import read_parameter, rebuild

        stack = self.client("cloudformation").describe_stacks(StackName=facts["stack"])["Stacks"][0]
        outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs") or []}
        parameter = outputs.get("PipelineContextParameter")
        if not parameter:
            raise CheckFailed(f"{facts['stack']} has no PipelineContextParameter output")
        sm = self.client("sagemaker")
        deployed = sm.describe_pipeline(PipelineName=facts["pipeline"])["PipelineDefinition"]
        rebuilt = rebuild(read_parameter(self.client("ssm"), parameter), None, self.client("s3"))

        def without_code(text: str) -> str:
            # Every value naming a script: its S3 location, and the file name the containers
            # take from it (CDK names assets by hash, pipeline.py by step).
            return re.sub(r'"[^"]*\.py"', '"<step code>"', text)

        mine, theirs = without_code(rebuilt.definition), without_code(deployed)
        if mine != theirs:
            at = next((i for i, (a, b) in enumerate(zip(mine, theirs, strict=False)) if a != b), min(len(mine), len(theirs)))
            raise CheckFailed(
                f"the definition rebuilt from {parameter} differs from the deployed one beyond step code locations, "
                f"at character {at}: rebuilt {mine[max(0, at - 40):at + 40]!r}, deployed {theirs[max(0, at - 40):at + 40]!r}"
            )
        sm.update_pipeline(PipelineName=facts["pipeline"], PipelineDefinition=rebuilt.definition)
        now = sm.describe_pipeline(PipelineName=facts["pipeline"])["PipelineDefinition"]
        if now != rebuilt.definition:
            raise CheckFailed(f"UpdatePipeline did not take the rebuilt definition of {facts['pipeline']}")
        uploaded = [uri.split("/", 3)[3] for uri in rebuilt.code_uris.values()]
        for key in uploaded:
            self.client("s3").head_object(Bucket=facts["bucket"], Key=key)
        folder = uploaded[0].rsplit("/", 1)[0] if uploaded else "no step code"
        return f"{parameter} -> same definition as deployed; {len(uploaded)} step files in {folder}; pipeline updated"

    def _project_stack(self) -> StackArtifact:
        assembly = load_assembly(self.assembly, account_id=self.aws.account_id, region=self.aws.region)
        for stack in assembly.stacks:
            if stack.artifact_id.startswith("Project-"):
                return stack
        raise CheckFailed(
            f"{self.assembly} has no Project-* stack: add a project (mlops-kit new-project) and synth"
        )

    def _sklearn_image(self, template: dict[str, Any]) -> str:
        """The image the stack's pipeline uses for this region (its SklearnImages mapping)."""
        images = (template.get("Mappings") or {}).get("SklearnImages") or {}
        if self.aws.region in images:
            return str(images[self.aws.region]["uri"])
        from mlops_kit.pipelines import sklearn_image_uri_by_region

        return sklearn_image_uri_by_region()[self.aws.region]

    def _approved_packages(self, group: str) -> list[str]:
        listed = self.client("sagemaker").list_model_packages(
            ModelPackageGroupName=group, ModelApprovalStatus="Approved"
        )["ModelPackageSummaryList"]
        return [p["ModelPackageArn"] for p in listed]

    def _feature_group_names(self) -> list[str]:
        """Feature groups the assembly declares (moto has no ListFeatureGroups)."""
        assembly = load_assembly(self.assembly, account_id=self.aws.account_id, region=self.aws.region)
        names = []
        for stack in assembly.stacks:
            for resource in (stack.template().get("Resources") or {}).values():
                name = (resource.get("Properties") or {}).get("FeatureGroupName")
                if resource.get("Type") == "AWS::SageMaker::FeatureGroup" and isinstance(name, str):
                    names.append(name)
        return names

    def _feature_records(self) -> str:
        sm = self.client("sagemaker")
        names = self._feature_group_names()
        if not names:
            raise CheckFailed("the assembly declares no feature group (the SharedAssets stack creates one)")
        name = names[0]
        group = sm.describe_feature_group(FeatureGroupName=name)
        storage = (group.get("OfflineStoreConfig") or {}).get("S3StorageConfig") or {}
        if not storage.get("S3Uri"):
            raise CheckFailed(f"feature group {name} has no offline store")
        bucket, _, prefix = storage["S3Uri"].removeprefix("s3://").partition("/")
        created = group.get("CreationTime") or datetime.now(UTC)
        now = datetime.now(UTC)
        # The layout SageMaker writes: <prefix>/<account>/sagemaker/<region>/offline-store/<group>-<ts>/data/year=.../
        key = (
            f"{prefix.rstrip('/')}/{self.aws.account_id}/sagemaker/{self.aws.region}/offline-store/"
            f"{name}-{int(created.timestamp())}/data/year={now:%Y}/month={now:%m}/day={now:%d}/hour={now:%H}/"
            "mlops-kit-demo.parquet"
        ).lstrip("/")
        body, rows = _feature_parquet(group, now)
        s3 = self.client("s3")
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        size = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
        if size != len(body):
            raise CheckFailed(f"s3://{bucket}/{key} has {size} bytes, {len(body)} were sent")
        self.report.facts.update(feature_group=name, offline_bucket=bucket, offline_key=key)
        return (
            f"{rows} records of {name} -> s3://{bucket}/{key.split('/offline-store/')[0]}/offline-store/... "
            "(Parquet; moto has no Feature Store runtime for PutRecord)"
        )

    def _approval_rule(self, group: str) -> tuple[str, dict[str, Any], str]:
        events = self.client("events")
        candidates = []
        for rule in events.list_rules()["Rules"]:
            pattern = json.loads(rule.get("EventPattern") or "{}")
            detail = pattern.get("detail") or {}
            if group in (detail.get("ModelPackageGroupName") or []):
                candidates.append((rule, pattern, detail))
        if not candidates:
            raise CheckFailed(f"no EventBridge rule filters on model package group {group}")
        for rule, pattern, detail in candidates:
            if detail.get("ModelApprovalStatus") != ["Approved"]:
                continue
            if pattern.get("source") != ["aws.sagemaker"] or pattern.get("detail-type") != [
                APPROVAL_DETAIL_TYPE
            ]:
                continue
            if rule.get("State") != "ENABLED":
                raise CheckFailed(f"rule {rule['Name']} is {rule.get('State')}")
            targets = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
            machines = [t["Arn"] for t in targets if ":states:" in t["Arn"] and ":stateMachine:" in t["Arn"]]
            if not machines:
                raise CheckFailed(
                    f"rule {rule['Name']} targets {[t['Arn'] for t in targets]}, no state machine"
                )
            return rule["Name"], pattern, machines[0]
        raise CheckFailed(
            f"rules on group {group} do not filter on source aws.sagemaker, '{APPROVAL_DETAIL_TYPE}' and "
            f"ModelApprovalStatus [Approved]: {[c[1] for c in candidates]}"
        )

    def _route_probe(self, pattern: dict[str, Any], group: str, package: str) -> str:
        """A throwaway rule with the approval rule's pattern and an SQS target: what does it receive?"""
        events, sqs = self.client("events"), self.client("sqs")
        name = f"mlops-kit-demo-probe-{uuid.uuid4().hex[:8]}"
        queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        # On a bus of its own: moto answers PutEvents with a 500 when an event matches a rule
        # that targets Step Functions (it implements SQS, logs and event-bus targets only), as
        # the project's approval rule on the default bus does.
        events.create_event_bus(Name=name)
        try:
            events.put_rule(Name=name, EventBusName=name, EventPattern=json.dumps(pattern), State="ENABLED")
            events.put_targets(Rule=name, EventBusName=name, Targets=[{"Id": "probe", "Arn": queue_arn}])
            sent = {}
            for status in ("PendingManualApproval", "Approved", "Rejected"):
                event = _approval_event(self.aws, group, package, status)
                answer = events.put_events(
                    Entries=[
                        {
                            "Source": event["source"],
                            "DetailType": event["detail-type"],
                            "Detail": json.dumps(event["detail"]),
                            "Resources": event["resources"],
                            "EventBusName": name,
                        }
                    ]
                )
                if answer.get("FailedEntryCount"):
                    raise Skipped(f"moto refused the {status} event: {answer['Entries']}")
                sent[status] = answer["Entries"][0].get("EventId", "")
            received: list[str] = []
            for _ in range(3):
                messages = sqs.receive_message(
                    QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
                ).get("Messages", [])
                received += [json.loads(m["Body"])["detail"]["ModelApprovalStatus"] for m in messages]
                if not messages:
                    break
        finally:
            with contextlib.suppress(ClientError):
                events.remove_targets(Rule=name, EventBusName=name, Ids=["probe"])
                events.delete_rule(Name=name, EventBusName=name)
                events.delete_event_bus(Name=name)
            with contextlib.suppress(ClientError):
                sqs.delete_queue(QueueUrl=queue_url)
        if any(status != "Approved" for status in received):
            raise CheckFailed(f"the pattern also matches {sorted(set(received) - {'Approved'})} events")
        if "Approved" not in received:
            raise Skipped("moto's EventBridge delivered nothing to the probe; routing not shown")
        return (
            "a probe rule with the same pattern (own bus, SQS target) received the Approved event and "
            "not the PendingManualApproval or Rejected ones (moto cannot invoke Step Functions targets)"
        )

    def _stack_gone(self, stack_name: str) -> bool:
        try:
            stacks = self.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
        except ClientError:
            return True
        return all(s["StackStatus"] == "DELETE_COMPLETE" for s in stacks)

    def _retained(self, facts: dict[str, Any]) -> str:
        s3, sm = self.client("s3"), self.client("sagemaker")
        problems: list[str] = []
        found: list[str] = []

        def check(label: str, probe: Callable[[], object]) -> None:
            try:
                probe()
                found.append(label)
            except (ClientError, CheckFailed, KeyError) as error:
                problems.append(f"{label}: {error}")

        check(f"project bucket {facts['bucket']}", lambda: s3.head_bucket(Bucket=facts["bucket"]))
        check("its training CSV", lambda: s3.head_object(Bucket=facts["bucket"], Key=DATA_KEY))
        check("its model artifact", lambda: s3.head_object(Bucket=facts["bucket"], Key=MODEL_KEY))
        check(
            f"model package group {facts['group']}",
            lambda: sm.describe_model_package_group(ModelPackageGroupName=facts["group"]),
        )
        if "package" in facts:

            def approved_still() -> None:
                if facts["package"] not in self._approved_packages(facts["group"]):
                    raise CheckFailed("not listed as Approved any more")

            check("the approved package", approved_still)
        for key in ("datasets-bucket-name", "artifacts-bucket-name"):
            bucket = self._platform_parameter(key)
            if bucket is None:
                problems.append(f"no SSM parameter */platform/{key}")
            else:
                check(f"shared bucket {bucket}", functools.partial(s3.head_bucket, Bucket=bucket))
        if "feature_group" in facts:
            check(
                f"feature group {facts['feature_group']}",
                lambda: sm.describe_feature_group(FeatureGroupName=facts["feature_group"]),
            )
            check(
                "its offline store data",
                lambda: s3.head_object(Bucket=facts["offline_bucket"], Key=facts["offline_key"]),
            )
        if problems:
            raise CheckFailed("missing: " + "; ".join(problems))
        return ", ".join(found)

    def _platform_parameter(self, key: str) -> str | None:
        ssm = self.client("ssm")
        for page in ssm.get_paginator("get_parameters_by_path").paginate(Path="/", Recursive=True):
            for parameter in page["Parameters"]:
                if parameter["Name"].endswith(f"/platform/{key}"):
                    return str(parameter["Value"])
        return None


def _approval_event(aws: AwsTarget, group: str, package: str, status: str) -> dict[str, Any]:
    """The event SageMaker sends when a package's approval status changes (the fields the rule reads)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": APPROVAL_DETAIL_TYPE,
        "source": "aws.sagemaker",
        "account": aws.account_id,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": aws.region,
        "resources": [package],
        "detail": {
            "ModelPackageGroupName": group,
            "ModelPackageArn": package,
            "ModelPackageVersion": int(package.rsplit("/", 1)[-1])
            if package.rsplit("/", 1)[-1].isdigit()
            else 1,
            "ModelApprovalStatus": status,
        },
    }


def _placeholder_model() -> bytes:
    """A model.tar.gz holding one note: the demo registers a package without training."""
    buffer = io.BytesIO()
    note = b"placeholder written by the mlops-kit demo; no training ran in the embedded AWS\n"
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("README.txt")
        info.size = len(note)
        info.mtime = 0
        archive.addfile(info, io.BytesIO(note))
    return buffer.getvalue()


def _feature_parquet(group: dict[str, Any], now: datetime, rows: int = 20) -> tuple[bytes, int]:
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


def run_flow(aws: AwsTarget, assembly: Path | str, *, progress: Progress = lambda _line: None) -> DemoReport:
    """The end-to-end flow; the report holds every step (for tests and callers that want details)."""
    return _Flow(aws, Path(assembly), progress).run()


def run_demo(aws: AwsTarget, assembly: Path | str, *, progress: Progress = lambda _line: None) -> bool:
    """Run the end-to-end flow after a local deploy, print its steps and table; ``False`` if a check failed."""
    progress(f"end-to-end flow on the example project (embedded AWS at {aws.endpoint})")
    report = run_flow(aws, assembly, progress=progress)
    progress(render_demo_table(report))
    return report.ok


__all__ = ["DemoReport", "DemoStep", "render_demo_table", "run_demo", "run_flow"]
