"""Run a deployed SageMaker pipeline against the embedded AWS: ``mlops-kit run-pipeline NAME --local``.

moto stores pipelines and executions but runs no step: its ``StartPipelineExecution`` records
the execution as ``Succeeded`` at once, and it has no ``ListPipelineExecutionSteps`` or any API
to record a step's status. This runner starts the execution there (so the execution ARN and its
parameters are real), then runs the steps itself, in dependency order, from the definition it
reads back with ``DescribePipeline`` (never from the kit's Python objects):

==================  =======================================================================
step type           what happens
==================  =======================================================================
Processing          the script runs in a subprocess (``pipeline_jobs``), S3 in and out
Training            the script-mode contract in a subprocess, ``model.tar.gz`` uploaded
Condition           decided on the evaluated values (the real evaluation report)
Fail                fails the run with its evaluated ``ErrorMessage``
RegisterModel       ``CreateModelPackage`` in the group, with the real ``ModelDataUrl`` and
                    metrics (the ``ModelDataUrl`` object must exist)
Model               ``CreateModel`` (name ``pipelines-<execution id>-<step>``)
Transform           the model's inference handlers over the input files, in a subprocess
                    (``transform_driver``); ``<file>.out`` uploaded. moto's own
                    ``CreateTransformJob`` reports Completed without running, so it is not used
anything else       ``NotRun``: QualityCheck, ClarifyCheck, Lambda, EMR, ... never run locally
==================  =======================================================================

A step's statuses: ``Succeeded``, ``Failed``, ``NotRun`` (cannot run locally, needs a step
that did not run, or the run stopped at a failure first) and ``Skipped`` (the branch of a
condition that was not taken). As on SageMaker the run stops at the first failed step. A
step that needs a ``NotRun`` step is ``NotRun`` too: its inputs were never produced, so
nothing after it can be trusted. One exception: a step that waits for a ``NotRun`` check step
(QualityCheck, ClarifyCheck) only through ``DependsOn``, reading none of its properties, still
runs: the order exists so that on SageMaker the check's files are written first, and the run
reads nothing from them (the tabular template registers its baseline's URIs this way; the demo
puts a fixture baseline there). The run's status is ``Failed`` when a step failed,
``Incomplete`` when no step failed but one did not run, else ``Succeeded``; ``ok_but_checks``
also accepts a run whose only steps not run are check steps.

Public API (kept stable for the demo)::

    run = run_pipeline(aws, "mlops-credit-risk", parameters={"InputDataUri": "s3://..."},
                       workdir=Path("/tmp/run"), progress=print)
    run.status             # "Succeeded" | "Failed" | "Incomplete"
    run.steps              # [StepRun(name, type, status, seconds, detail), ...]
    run.model_package_arn  # the package a RegisterModel step created, or None
    run.metrics            # {"accuracy": 0.86, ...}: the property files' {"value": x} leaves
    run.execution_arn      # moto's execution ARN
    run.gate               # what the condition compared, in words
    run.caveats            # the embedded AWS's limits met on this run, each once
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mlops_kit.local import pipeline_jobs as jobs
from mlops_kit.local.pipeline_expr import (
    ExpressionError,
    PipelineRunError,
    Scope,
    all_conditions,
    evaluate,
    parameter_values,
    step_references,
)

Progress = Callable[[str], None]
MOTO_CAVEAT = (
    "moto records every pipeline execution as Succeeded when it starts and has no API for step "
    "status; the step statuses here are the runner's own record"
)
RUNS_LOCALLY = ("Processing", "Training", "Transform", "Condition", "Fail", "RegisterModel", "Model")
# Steps of AWS's own analyzer images (Model Monitor, Clarify): never run locally.
CHECK_STEPS = ("QualityCheck", "ClarifyCheck")


@dataclass
class StepRun:
    name: str
    type: str
    status: str = "NotRun"  # Succeeded | Failed | NotRun | Skipped
    seconds: float = 0.0
    detail: str = ""


@dataclass
class PipelineRun:
    pipeline_name: str
    execution_arn: str
    status: str = "Executing"  # then Succeeded | Failed | Incomplete
    steps: list[StepRun] = field(default_factory=list)
    model_package_arn: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    gate: str = ""
    failure_reason: str = ""
    seconds: float = 0.0
    caveats: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "Succeeded"

    @property
    def checks_not_run(self) -> list[str]:
        return [step.name for step in self.steps if step.status == "NotRun" and step.type in CHECK_STEPS]

    @property
    def ok_but_checks(self) -> bool:
        """Succeeded, or Incomplete only because check steps (AWS analyzer images) did not run."""
        not_run = [step.name for step in self.steps if step.status == "NotRun"]
        return self.ok or (self.status == "Incomplete" and not_run == self.checks_not_run)

    def step(self, name: str) -> StepRun:
        return next(step for step in self.steps if step.name == name)


@dataclass
class _Node:
    spec: dict[str, Any]
    needs: set[str]
    branch: tuple[str, bool] | None  # (condition step, the outcome that runs it)
    orders: frozenset[str] = frozenset()  # DependsOn names whose properties it never reads


def _quiet(_line: str) -> None:
    return None


def run_pipeline(
    aws: Any,
    pipeline_name: str,
    *,
    parameters: Mapping[str, str] | None = None,
    workdir: Path,
    progress: Progress = _quiet,
) -> PipelineRun:
    """Start an execution of ``pipeline_name`` in ``aws`` (an ``AwsTarget``) and run its steps."""
    sm, s3 = aws.client("sagemaker"), aws.client("s3")
    try:
        described = sm.describe_pipeline(PipelineName=pipeline_name)
    except ClientError as error:
        raise PipelineRunError(
            f"pipeline {pipeline_name!r}: not found in the embedded AWS at {aws.endpoint} "
            f"({error.response['Error'].get('Code', 'error')})"
        ) from None
    try:
        definition = json.loads(described["PipelineDefinition"])
    except (KeyError, json.JSONDecodeError):
        raise PipelineRunError(f"pipeline {pipeline_name!r}: its PipelineDefinition is not JSON") from None
    values = parameter_values(pipeline_name, definition, parameters or {})
    started = time.perf_counter()
    arn = sm.start_pipeline_execution(
        PipelineName=pipeline_name,
        PipelineExecutionDisplayName="mlops-kit-local",
        PipelineParameters=[{"Name": name, "Value": str(value)} for name, value in values.items()],
    )["PipelineExecutionArn"]
    execution_id = arn.rsplit("/", 1)[-1]
    run = PipelineRun(pipeline_name=pipeline_name, execution_arn=arn, caveats=[MOTO_CAVEAT])
    scope = Scope(
        parameters=values,
        execution={
            "PipelineExecutionId": execution_id,
            "PipelineExecutionArn": arn,
            "PipelineName": pipeline_name,
            "PipelineArn": described["PipelineArn"],
            "StartDateTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "CurrentDateTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    )
    nodes = _graph(definition)
    order = _order(nodes)
    run.steps = [StepRun(name, nodes[name].spec["Type"]) for name in order]
    progress(f"pipeline {pipeline_name}: execution {execution_id}, {len(order)} steps")
    outcomes: dict[str, bool] = {}
    for position, name in enumerate(order, 1):
        node, record = nodes[name], run.step(name)
        prefix = f"  [{position}/{len(order)}] {name} ({record.type})"
        if run.status == "Failed":
            record.detail = f"the run stopped at {run.failure_reason.split(':', 1)[0]}"
            continue
        blocked = sorted(
            need for need in node.needs
            if run.step(need).status in ("NotRun", "Skipped")
            and not (need in node.orders and run.step(need).type in CHECK_STEPS and run.step(need).status == "NotRun")
        )
        if node.branch and node.branch[0] in outcomes and outcomes[node.branch[0]] != node.branch[1]:
            record.status, record.detail = "Skipped", f"{node.branch[0]} took the other branch"
        elif blocked:
            record.detail = f"needs {', '.join(blocked)}, which did not run"
        elif record.type not in RUNS_LOCALLY:
            record.detail = f"{record.type} steps do not run in the embedded AWS"
        else:
            progress(f"{prefix} ...")
            clock = time.perf_counter()
            try:
                record.detail = _execute(node, record, scope, run, outcomes, sm, s3, workdir / execution_id)
                record.status = "Succeeded"
            except (jobs.JobFailed, ExpressionError, _StepFailed, ClientError, BotoCoreError) as error:
                # BotoCoreError: a request the SageMaker API shape refuses (ParamValidationError).
                record.status, record.detail = "Failed", str(error)
                run.status, run.failure_reason = "Failed", f"{name}: {error}"
            except KeyError as error:
                record.status, record.detail = "Failed", f"its arguments have no {error}"
                run.status, run.failure_reason = "Failed", f"{name}: {record.detail}"
            record.seconds = time.perf_counter() - clock
        progress(f"{prefix}: {record.status} ({record.seconds:.1f} s) {record.detail}".rstrip())
    if run.status != "Failed":
        run.status = "Incomplete" if any(step.status == "NotRun" for step in run.steps) else "Succeeded"
    run.seconds = time.perf_counter() - started
    return run


class _StepFailed(Exception):
    """A Fail step ran, or a request step's check failed."""


def _execute(
    node: _Node,
    record: StepRun,
    scope: Scope,
    run: PipelineRun,
    outcomes: dict[str, bool],
    sm: Any,
    s3: Any,
    folder: Path,
) -> str:
    name, kind = record.name, record.type
    arguments = node.spec.get("Arguments", {})
    job_name = f"pipelines-{scope.execution['PipelineExecutionId']}-{name}"[:63]
    if kind == "Condition":
        outcome, said = all_conditions(arguments.get("Conditions", []), scope)
        outcomes[name] = outcome
        scope.steps[name] = {"Outcome": outcome}
        run.gate = "; ".join(said)
        return f"{run.gate}: {str(outcome).lower()}"
    if kind == "Fail":
        raise _StepFailed(str(evaluate(arguments.get("ErrorMessage", ""), scope)) or "Fail step reached")
    request = evaluate({key: value for key, value in arguments.items()}, scope)
    if kind in ("Processing", "Training"):
        runner = jobs.run_processing if kind == "Processing" else jobs.run_training
        result = runner(s3, request, folder / name, job_name)
        scope.steps[name] = result.properties
        for declared in node.spec.get("PropertyFiles", []):
            _load_property_file(name, declared, result, scope, run)
        return result.detail
    if kind == "Transform":
        result = jobs.run_transform(
            s3, _serving_container(sm, request["ModelName"]), request, folder / name, job_name
        )
        scope.steps[name] = result.properties
        return result.detail
    if kind == "RegisterModel":
        for container in request.get("InferenceSpecification", {}).get("Containers", []):
            url = container.get("ModelDataUrl")
            if url:
                bucket, key = jobs.split_s3(url)
                try:
                    s3.head_object(Bucket=bucket, Key=key)
                except ClientError:
                    raise _StepFailed(f"ModelDataUrl {url} does not exist") from None
        arn = sm.create_model_package(**request)["ModelPackageArn"]
        scope.steps[name] = {**request, **sm.describe_model_package(ModelPackageName=arn)}
        run.model_package_arn = arn
        return f"{arn} ({request.get('ModelApprovalStatus', 'PendingManualApproval')})"
    # kind == "Model"
    created = sm.create_model(ModelName=job_name, **request)
    scope.steps[name] = {**request, "ModelName": job_name, "ModelArn": created["ModelArn"]}
    return f"model {job_name}"


def _serving_container(sm: Any, model_name: str) -> dict[str, Any]:
    """The container a model serves with, through the model package it names if it names one."""
    model = sm.describe_model(ModelName=model_name)
    primary = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
    package = primary.get("ModelPackageName")
    if not package:
        return dict(primary)
    containers = sm.describe_model_package(ModelPackageName=package)["InferenceSpecification"]["Containers"]
    return dict(containers[0])


def _load_property_file(
    step: str, declared: Mapping[str, Any], result: jobs.JobResult, scope: Scope, run: PipelineRun
) -> None:
    name, output = declared["PropertyFileName"], declared["OutputName"]
    folder = result.local_outputs.get(output)
    if folder is None:
        raise _StepFailed(f"property file {name}: the step has no output {output!r}")
    path = folder / declared["FilePath"]
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise _StepFailed(f"property file {name}: {declared['FilePath']} unreadable ({error})") from None
    scope.property_files[(step, name)] = document
    run.metrics.update(_values(document))


def _values(document: Any) -> dict[str, float]:
    """``{"accuracy": {"value": 0.86}}`` leaves, the shape SageMaker's model-quality reports use."""
    found: dict[str, float] = {}
    if isinstance(document, dict):
        for key, value in document.items():
            if isinstance(value, dict) and isinstance(value.get("value"), int | float):
                found[key] = float(value["value"])
            else:
                found.update(_values(value))
    return found


def _graph(definition: Mapping[str, Any]) -> dict[str, _Node]:
    """Every step, branches included, with what it waits for."""
    nodes: dict[str, _Node] = {}

    def add(steps: list[dict[str, Any]], branch: tuple[str, bool] | None) -> None:
        for spec in steps:
            arguments = spec.get("Arguments", {})
            # A condition waits for what its conditions read, not for its branches' inputs.
            reads = arguments.get("Conditions", []) if spec.get("Type") == "Condition" else arguments
            references = step_references(reads)
            needs = set(spec.get("DependsOn", [])) | references
            if branch:
                needs.add(branch[0])
            nodes[spec["Name"]] = _Node(spec, needs, branch, frozenset(set(spec.get("DependsOn", [])) - references))
            if spec.get("Type") == "Condition":
                add(spec.get("Arguments", {}).get("IfSteps", []), (spec["Name"], True))
                add(spec.get("Arguments", {}).get("ElseSteps", []), (spec["Name"], False))

    add(list(definition.get("Steps", [])), None)
    for node in nodes.values():
        missing = sorted(node.needs - set(nodes))
        if missing:
            raise PipelineRunError(f"step {node.spec['Name']}: depends on unknown step {missing[0]}")
    return nodes


def _order(nodes: Mapping[str, _Node]) -> list[str]:
    """Dependency order, the definition's order among steps that are ready together."""
    done: list[str] = []
    waiting = list(nodes)
    while waiting:
        ready = [name for name in waiting if nodes[name].needs <= set(done)]
        if not ready:
            raise PipelineRunError(f"steps {', '.join(waiting)}: their dependencies form a cycle")
        done.append(ready[0])
        waiting.remove(ready[0])
    return done


def render_steps(run: PipelineRun) -> str:
    """The table of steps with their times."""
    rows = [("step", "type", "status", "time", "detail")]
    rows += [(s.name, s.type, s.status, f"{s.seconds:.1f} s", s.detail) for s in run.steps]
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)) + "  " + row[4]
        for row in rows
    ]
    return "\n".join(line.rstrip() for line in lines)


def verdict(run: PipelineRun) -> str:
    """One line: the outcome, the metric the model reached and the package."""
    said = f"pipeline {run.pipeline_name}: {run.status} in {run.seconds:.1f} s"
    if run.gate:
        said += f"; {run.gate}"
    if run.model_package_arn:
        said += f"; model package {run.model_package_arn}"
    elif run.status == "Failed":
        said += f"; failed at {run.failure_reason}"
    not_run = [step.name for step in run.steps if step.status == "NotRun"]
    if run.status == "Incomplete":
        said += f"; not run: {', '.join(not_run)}"
    return said


def resolve_pipeline_name(aws: Any, name: str, prefix: str | None) -> str:
    """A project name (the kit names its pipeline ``<prefix>-<project>``) or a pipeline's own name."""
    sm = aws.client("sagemaker")
    candidates = [f"{prefix}-{name}", name] if prefix and not name.startswith(f"{prefix}-") else [name]
    for candidate in candidates:
        try:
            sm.describe_pipeline(PipelineName=candidate)
        except ClientError:
            continue
        return candidate
    present = sorted(p["PipelineName"] for p in sm.list_pipelines().get("PipelineSummaries", []))
    raise PipelineRunError(
        f"NAME: no pipeline {' or '.join(repr(c) for c in candidates)} in the embedded AWS at {aws.endpoint}; "
        f"it has {', '.join(present) or 'none (deploy the project first)'}"
    )
