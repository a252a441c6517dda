"""The end-to-end flow on the example project, run against the embedded AWS after a local deploy.

``run_demo(aws, assembly)`` takes the first ``Project-*`` stack of the cloud assembly and walks
the life of one model through what the deploy created: training data uploaded; the project's
pipeline run by the local runner (a real model, evaluation report and metric, a registered
package); the pipeline rebuilt from its published context; feature records in the offline
store; then the deploy flow, driven only from the outside (``demo_flow``, ``deploy_flow``):
the pending package starts nothing, approving it with ``UpdateModelPackage`` starts the flow,
staging comes up, the approval request arrives on an SQS queue subscribed to the project's
topic, its token goes back with ``SendTaskSuccess`` and production comes up with autoscaling
and monitoring; v2 takes the update path and a duplicate approval event deploys nothing;
finally the project stack is destroyed and the retained data checked.

Each step is printed as it finishes (``✓`` passed, ``✗`` failed, ``○`` not checkable here, with
the reason); the embedded AWS's caveats once; one verdict line and the next steps at the end
(the step table with ``verbose``). ``run_demo`` returns ``False`` if any check failed.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from mlops_kit.local import demo_flow
from mlops_kit.local.assembly import StackArtifact, load_assembly
from mlops_kit.local.demo_flow import APPROVAL_DETAIL_TYPE, CheckFailed
from mlops_kit.local.demo_flow import feature_parquet as _feature_parquet
from mlops_kit.local.deploy import AwsTarget, DestroyReport, Progress, destroy_stack
from mlops_kit.local.report import FAILED as FAILED_OUTCOME

PASSED = "✓"
FAILED = "✗"
SKIPPED = "○"  # not checkable in the embedded AWS; the detail says why

DATA_KEY = "pipeline/raw/credit-risk-demo.csv"  # under the pipeline's InputDataUri default


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
            facts["data_key"] = DATA_KEY
            rows = body.count(b"\n") - 1
            say(f"{rows} rows, {size} bytes -> {facts['data_uri']}")

        with self.step("run the pipeline: train, evaluate, register v1") as say:
            say(demo_flow.run_training(self.aws, facts, self.progress))

        with self.step("rebuild the pipeline from its published context") as say:
            say(self._rebuild_pipeline(facts))

        with self.step("write feature records to the offline store") as say:
            say(self._feature_records())

        with self.step("approval rule targets the deploy flow") as say:
            rule, _pattern, machine = self._approval_rule(facts["group"])
            facts.update(rule=rule, state_machine=machine)
            described = self.client("stepfunctions").describe_state_machine(stateMachineArn=machine)
            facts["staging_endpoint"] = f"{facts['group']}-staging"
            facts["production_endpoint"] = f"{facts['group']}-production"
            say(f"rule {rule} (group {facts['group']}, Approved) -> state machine {described['name']}")

        if "package" not in facts or "state_machine" not in facts:
            return self._finish(facts)  # the deploy flow needs both

        with self.step("a pending package starts no deployment") as say:
            say(demo_flow.pending_starts_nothing(self.client, facts))

        inbox = None
        with self.step("subscribe a queue to the approval topic") as say:
            inbox = demo_flow.subscribe(self.client, facts)
            say(f"SQS queue {inbox.queue_url.rsplit('/', 1)[-1]} subscribed to {inbox.topic_arn.rsplit(':', 1)[-1]}")
        if inbox is None:
            return self._finish(facts)
        try:
            for label, package in (("v1", facts["package"]), ("v2", None)):
                if package is None:
                    with self.step("register v2 on changed data") as say:
                        say(demo_flow.register_second_version(self.aws, facts, self.progress))
                    package = facts.get("package_v2")
                    if package is None or self.failed():
                        break
                with self.step(f"approve {label} (UpdateModelPackage): the flow deploys staging") as say:
                    say(demo_flow.approve_and_reach_staging(self.client, facts, package, label=label))
                with self.step(f"{label}: production approval request received") as say:
                    say(demo_flow.receive_request(inbox, facts, package, label=label))
                with self.step(f"{label}: send the token back (SendTaskSuccess)") as say:
                    say(demo_flow.approve_production(self.client, facts, label=label))
                if self.failed():
                    break
        finally:
            inbox.close()
        if not self.failed():
            with self.step("v2 took the update path") as say:
                say(demo_flow.update_path(facts))
            with self.step("a duplicate approval event deploys nothing") as say:
                say(demo_flow.duplicate_event(self.client, facts))
        return self._finish(facts)

    def _finish(self, facts: dict[str, Any]) -> DemoReport:
        with self.step("remove the deploy flow's endpoints, configs, models, targets, schedules") as say:
            say(demo_flow.remove_flow_resources(self.client, facts["stack"]))
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
        if "model_url" in facts:
            model_bucket, _, model_key = facts["model_url"].removeprefix("s3://").partition("/")
            check("its trained model.tar.gz", lambda: s3.head_object(Bucket=model_bucket, Key=model_key))
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


def run_flow(aws: AwsTarget, assembly: Path | str, *, progress: Progress = lambda _line: None) -> DemoReport:
    """The end-to-end flow; the report holds every step (for tests and callers that want details)."""
    return _Flow(aws, Path(assembly), progress).run()


def run_demo(
    aws: AwsTarget, assembly: Path | str, *, progress: Progress = lambda _line: None, verbose: bool = False
) -> bool:
    """Run the end-to-end flow after a local deploy: progress, caveats once, one verdict; ``False`` if a check failed."""
    from mlops_kit.local.moto_shims import SHIMS

    progress(f"end-to-end flow on the example project (embedded AWS at {aws.endpoint})")
    progress("embedded-AWS caveats (said once): shims in the moto server, each filling one moto gap:")
    for name, what in SHIMS.items():
        progress(f"  - {name}: {what}")
    report = run_flow(aws, assembly, progress=progress)
    for caveat in report.facts.get("pipeline_caveats", []):
        progress(f"  - pipeline runner: {caveat}")
    if verbose:
        progress(render_demo_table(report))
    failed = [s for s in report.steps if s.mark == FAILED]
    metrics = report.facts.get("metrics") or {}
    metric = ", ".join(f"{k} {v:.3f}" for k, v in sorted(metrics.items())) or "no metric"
    if report.ok:
        progress(
            f"VERDICT: ok - {len(report.steps)} steps in {report.seconds:.1f} s; the model reached {metric}; "
            "v1 and v2 deployed to staging and production by the deploy flow"
        )
    else:
        progress(f"VERDICT: FAILED at step {failed[0].number} ({failed[0].title}): {failed[0].detail}")
        progress("next: rerun with -v for every step and the per-stack tables; the moto log is kept with --keep")
    return report.ok


__all__ = ["DemoReport", "DemoStep", "render_demo_table", "run_demo", "run_flow"]
