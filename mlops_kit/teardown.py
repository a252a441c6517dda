"""Ordered teardown of a project, SharedAssets or the whole platform, in the order AWS requires.

``mlops-kit destroy`` plans first (dry run, the default) and acts only with ``--yes``. The plan
is read from the account through boto3 (or from the embedded AWS with ``--endpoint-url``):

1. **Each project's runtime resources**, which the deploy flow creates outside CloudFormation
   (``constructs/model_deployment.py``) and found by the names the flow gives them, all starting
   with ``<prefix>-<project>-``: the monitoring schedules (and model-quality job definitions), the production
   variant's scaling policy and scalable target, the staging and production endpoints (waited
   on until gone), their endpoint configs, then the models. Monitoring schedules and scalable
   targets go first because they point at the endpoint; configs and models last because
   endpoints use them. Then the project's stack.
2. **SharedAssets**: Studio apps (every app of the domain, waited on until ``Deleted``; on AWS
   this can take about 20 minutes), then spaces, then user profiles, each waited on until gone,
   then the domain with ``RetentionPolicy={"HomeEfsFileSystem": "Retain"}``, because DeleteDomain
   fails while any of them exists. Then the stack.
3. **Backbone** last: every other stack reads it.

Everything a template marks ``DeletionPolicy: Retain`` (buckets, keys, registries, log groups,
feature groups) is kept by CloudFormation and listed with its physical ID. The Studio domain is
the one retained resource teardown deletes itself: its data lives on the home EFS volume, which
DeleteDomain keeps with that retention policy, and the kit lists the volume as retained.

AWS facts relied on:
- DeleteDomain deletes the domain only; "By default, all resources are retained" and
  ``HomeEfsFileSystem`` is ``Retain`` or ``Delete``:
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DeleteDomain.html
- App states ``Deleted | Deleting | Failed | InService | Pending``:
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeApp.html
- DeleteDomain and DeleteUserProfile answer ``ResourceInUse`` while something still uses the
  domain or profile, hence apps, then spaces, then profiles, then the domain:
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DeleteUserProfile.html
- A missing stack makes ``DescribeStacks`` fail with ``ValidationError``, as a missing endpoint
  makes ``DescribeEndpoint`` fail with ``ValidationException``: both read as "gone".

What moto (the embedded AWS) cannot show: it has no Studio app, space or user profile API
and no monitoring schedules, so those steps are checked against botocore's request shapes in
the tests, not executed; endpoints, configs, models, scalable targets, scaling policies, the
domain and CloudFormation stacks are deleted in moto for real.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from mlops_kit.errors import KitError

Clients = Callable[[str], Any]
Progress = Callable[[str], None]
GONE = ("ResourceNotFound", "ValidationException", "ValidationError", "ObjectNotFoundException", "NotFoundException")
# Reverse dependency order. DeliveryAccess exists only in serving accounts of a delivery; its
# roles sit under the Backbone's permission boundary, so it goes before the Backbone.
PLATFORM = ("SharedAssets", "DeliveryAccess", "Backbone")


@dataclass
class Step:
    """One deletion, in plan order: what, where, and how to know it is gone."""

    kind: str
    name: str
    stack: str
    delete: Callable[[], object] = field(repr=False)
    gone: Callable[[], bool] | None = field(default=None, repr=False)

    def describe(self) -> str:
        return f"delete {self.kind} {self.name}" + (" (then wait until gone)" if self.gone else "")


@dataclass
class TeardownPlan:
    targets: list[str]
    steps: list[Step]
    retained: list[str]
    notes: list[str]

    def render(self) -> str:
        lines = [f"teardown of {', '.join(self.targets)}: {len(self.steps)} step(s)"]
        lines += [f"  {index:>2}. {step.describe()}" for index, step in enumerate(self.steps, 1)]
        lines += ["retained (kept, delete by hand if you mean to):", *[f"  - {item}" for item in self.retained or ["nothing"]]]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


@dataclass
class TeardownResult:
    deleted: list[str]
    retained: list[str]
    failed: list[str]

    @property
    def ok(self) -> bool:
        return not self.failed


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _absent(call: Callable[[], Any], done: Callable[[Any], bool] = lambda _: False) -> Callable[[], bool]:
    """A 'gone' probe: the describe call reports not-found, or ``done`` says the result means gone."""

    def probe() -> bool:
        try:
            return done(call())
        except ClientError as error:
            if _code(error) in GONE:
                return True
            raise

    return probe


def _app_deleted(response: dict[str, Any]) -> bool:
    return response.get("Status") == "Deleted"


def _pages(client: Any, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in client.get_paginator(operation).paginate(**params):
        items.extend(page.get(key, []))
    return items


def owned(name: str, base: str, others: Sequence[str]) -> bool:
    """``name`` was made by the flow of ``base``, not of a project whose name extends it (``churn`` vs ``churn-eu``)."""
    longer = [other for other in others if other.startswith(base + "-")]
    return name.startswith(base + "-") and not any(name.startswith(other + "-") for other in longer)


class Planner:
    """Reads the account and builds the ordered steps for the platform named ``prefix``."""

    def __init__(self, clients: Clients, prefix: str) -> None:
        self.clients = clients
        self.prefix = prefix
        self.cfn = clients("cloudformation")
        self.notes: list[str] = []
        self.stacks = {
            stack["StackName"]: stack
            for stack in _pages(self.cfn, "describe_stacks", "Stacks")
            if stack["StackStatus"] != "DELETE_COMPLETE"
        }

    def stack_name(self, target: str) -> str:
        if target == "SharedAssets":
            return f"{self.prefix}-shared-assets"
        if target == "Backbone":
            return f"{self.prefix}-backbone"
        if target == "DeliveryAccess":
            return f"{self.prefix}-delivery-access"
        return f"{self.prefix}-project-{target.removeprefix('Project-')}"

    def project_names(self) -> list[str]:
        head = f"{self.prefix}-project-"
        return sorted(name.removeprefix(head) for name in self.stacks if name.startswith(head))

    def project_steps(self, project: str) -> list[Step]:
        base = f"{self.prefix}-{project}"
        others = [f"{self.prefix}-{name}" for name in self.project_names()]
        stack = self.stack_name(project)
        sm, scaling = self.clients("sagemaker"), self.clients("application-autoscaling")
        steps: list[Step] = []
        try:
            for schedule in _pages(sm, "list_monitoring_schedules", "MonitoringScheduleSummaries", NameContains=base):
                name = schedule["MonitoringScheduleName"]
                if owned(name, base, others):
                    steps.append(Step("monitoring schedule", name, stack, partial(sm.delete_monitoring_schedule, MonitoringScheduleName=name),
                                      _absent(partial(sm.describe_monitoring_schedule, MonitoringScheduleName=name))))
        except (ClientError, NotImplementedError) as error:
            self.notes.append(f"monitoring schedules of {project} could not be listed here ({error}); none deleted")
        try:
            # The flow's model-quality job definitions (<base>-mq-v<N>), after the schedules that name them.
            for definition in _pages(sm, "list_model_quality_job_definitions", "JobDefinitionSummaries", NameContains=base):
                name = definition["MonitoringJobDefinitionName"]
                if owned(name, base, others):
                    steps.append(Step("model-quality job definition", name, stack, partial(sm.delete_model_quality_job_definition, JobDefinitionName=name),
                                      _absent(partial(sm.describe_model_quality_job_definition, JobDefinitionName=name))))
        except (ClientError, NotImplementedError) as error:
            self.notes.append(f"model-quality job definitions of {project} could not be listed here ({error}); none deleted")
        for target in _pages(scaling, "describe_scalable_targets", "ScalableTargets", ServiceNamespace="sagemaker"):
            resource = str(target["ResourceId"])
            endpoint_name = resource.split("/")[1] if resource.startswith("endpoint/") else ""
            if not owned(endpoint_name, base, others):
                continue
            for policy in _pages(scaling, "describe_scaling_policies", "ScalingPolicies", ServiceNamespace="sagemaker", ResourceId=resource):
                steps.append(Step("scaling policy", policy["PolicyName"], stack, partial(
                    scaling.delete_scaling_policy, PolicyName=policy["PolicyName"], ServiceNamespace="sagemaker",
                    ResourceId=resource, ScalableDimension=policy["ScalableDimension"])))
            steps.append(Step("scalable target", resource, stack, partial(
                scaling.deregister_scalable_target, ServiceNamespace="sagemaker", ResourceId=resource,
                ScalableDimension=target["ScalableDimension"])))
        for endpoint in _pages(sm, "list_endpoints", "Endpoints", NameContains=base):
            name = endpoint["EndpointName"]
            if owned(name, base, others):
                steps.append(Step("endpoint", name, stack, partial(sm.delete_endpoint, EndpointName=name),
                                  _absent(partial(sm.describe_endpoint, EndpointName=name))))
        for config in _pages(sm, "list_endpoint_configs", "EndpointConfigs", NameContains=base):
            name = config["EndpointConfigName"]
            if owned(name, base, others):
                steps.append(Step("endpoint config", name, stack, partial(sm.delete_endpoint_config, EndpointConfigName=name)))
        for model in _pages(sm, "list_models", "Models", NameContains=base):
            name = model["ModelName"]
            if owned(name, base, others):
                steps.append(Step("model", name, stack, partial(sm.delete_model, ModelName=name)))
        return steps

    def studio_steps(self, domain_id: str, stack: str) -> tuple[list[Step], list[str]]:
        sm = self.clients("sagemaker")
        steps: list[Step] = []
        for app in _pages(sm, "list_apps", "Apps", DomainIdEquals=domain_id):
            if app.get("Status") in ("Deleted", "Deleting"):
                continue
            owner = {"SpaceName": app["SpaceName"]} if app.get("SpaceName") else {"UserProfileName": app.get("UserProfileName", "")}
            key = {"DomainId": domain_id, "AppType": app["AppType"], "AppName": app["AppName"], **owner}
            steps.append(Step("Studio app", f"{next(iter(owner.values()))}/{app['AppType']}/{app['AppName']}", stack,
                              partial(sm.delete_app, **key),
                              _absent(partial(sm.describe_app, **key), _app_deleted)))
        for space in _pages(sm, "list_spaces", "Spaces", DomainIdEquals=domain_id):
            name = space["SpaceName"]
            steps.append(Step("Studio space", name, stack, partial(sm.delete_space, DomainId=domain_id, SpaceName=name),
                              _absent(partial(sm.describe_space, DomainId=domain_id, SpaceName=name))))
        for profile in _pages(sm, "list_user_profiles", "UserProfiles", DomainIdEquals=domain_id):
            name = profile["UserProfileName"]
            steps.append(Step("Studio user profile", name, stack, partial(sm.delete_user_profile, DomainId=domain_id, UserProfileName=name),
                              _absent(partial(sm.describe_user_profile, DomainId=domain_id, UserProfileName=name))))
        described = sm.describe_domain(DomainId=domain_id)
        steps.append(Step("Studio domain", domain_id, stack,
                          lambda: sm.delete_domain(DomainId=domain_id, RetentionPolicy={"HomeEfsFileSystem": "Retain"}),
                          _absent(lambda: sm.describe_domain(DomainId=domain_id))))
        efs = described.get("HomeEfsFileSystemId")
        return steps, [f"EFS file system {efs} (Studio home folders of {domain_id}), in stack {stack}'s VPC"] if efs else []

    def stack_steps(self, target: str) -> tuple[list[Step], list[str]]:
        """The stack's own deletion; what its template retains, with physical IDs; the domain first for SharedAssets."""
        name = self.stack_name(target)
        if name not in self.stacks:
            self.notes.append(f"stack {name} does not exist here; nothing of it to delete")
            return [], []
        body = self.cfn.get_template(StackName=name)["TemplateBody"]
        template = json.loads(body) if isinstance(body, str) else body
        physical = {r["LogicalResourceId"]: r for r in _pages(self.cfn, "list_stack_resources", "StackResourceSummaries", StackName=name)}
        steps: list[Step] = []
        retained: list[str] = []
        for logical_id, resource in (template.get("Resources") or {}).items():
            found = physical.get(logical_id, {})
            if resource.get("Type") == "AWS::SageMaker::Domain" and found.get("PhysicalResourceId"):
                studio, kept = self.studio_steps(found["PhysicalResourceId"], name)
                steps += studio
                retained += kept
            elif resource.get("DeletionPolicy") == "Retain" and found.get("PhysicalResourceId"):
                retained.append(f"{resource['Type']} {found['PhysicalResourceId']} (stack {name}, {logical_id})")
        steps.append(Step("CloudFormation stack", name, name, lambda: self.cfn.delete_stack(StackName=name),
                          _absent(lambda: self.cfn.describe_stacks(StackName=name), self._stack_deleted)))
        return steps, retained

    @staticmethod
    def _stack_deleted(response: dict[str, Any]) -> bool:
        status = response["Stacks"][0]["StackStatus"]
        if status == "DELETE_FAILED":
            raise KitError(f"stack {response['Stacks'][0]['StackName']}: DELETE_FAILED: {response['Stacks'][0].get('StackStatusReason', '')}")
        return bool(status == "DELETE_COMPLETE")


def plan_teardown(clients: Clients, *, prefix: str, targets: Sequence[str] = (), everything: bool = False) -> TeardownPlan:
    """The ordered deletions for ``targets`` (``Project-NAME``, ``SharedAssets``, ``Backbone``) or the whole platform.

    Reads only. Refuses a platform stack while project stacks that read it would remain.
    """
    planner = Planner(clients, prefix)
    projects = planner.project_names()
    if everything:
        chosen = [*(f"Project-{name}" for name in projects), "SharedAssets", "Backbone"]
        if planner.stack_name("DeliveryAccess") in planner.stacks:
            chosen.insert(-1, "DeliveryAccess")
    else:
        if not targets:
            raise KitError("mlops-kit destroy: name what to remove (Project-NAME, SharedAssets, Backbone) or give --all")
        unknown = [t for t in targets if t not in PLATFORM and not t.startswith("Project-")]
        if unknown:
            raise KitError(f"mlops-kit destroy: got {unknown[0]!r}; allowed: Project-NAME, SharedAssets, DeliveryAccess, Backbone or --all")
        chosen = sorted(dict.fromkeys(targets), key=lambda t: (t in PLATFORM, PLATFORM.index(t) if t in PLATFORM else 0))
        staying = [name for name in projects if f"Project-{name}" not in chosen]
        if staying and any(t in PLATFORM for t in chosen):
            raise KitError(f"mlops-kit destroy: project stack(s) {', '.join(staying)} still read the platform; destroy them first or give --all")
        if "Backbone" in chosen and "SharedAssets" not in chosen and planner.stack_name("SharedAssets") in planner.stacks:
            raise KitError("mlops-kit destroy: SharedAssets still uses the Backbone; destroy SharedAssets with it or give --all")
    steps: list[Step] = []
    retained: list[str] = []
    for target in chosen:
        if target.startswith("Project-"):
            steps += planner.project_steps(target.removeprefix("Project-"))
        own, kept = planner.stack_steps(target)
        steps += own
        retained += kept
    return TeardownPlan(targets=chosen, steps=steps, retained=retained, notes=planner.notes)


def wait_until(gone: Callable[[], bool], *, label: str, timeout: float, poll: float, progress: Progress) -> None:
    started = time.monotonic()
    while not gone():
        waited = time.monotonic() - started
        if waited > timeout:
            raise KitError(f"{label}: still there after {timeout:.0f} s; run `mlops-kit destroy` again to resume")
        progress(f"  waiting for {label} ({waited:.0f} s)")
        time.sleep(poll)


def run_teardown(plan: TeardownPlan, *, timeout: float = 1800.0, poll: float = 15.0, progress: Progress = lambda _: None) -> TeardownResult:
    """Carry the plan out in order, waiting on each step that must finish before the next; stop at the first failure."""
    deleted: list[str] = []
    for index, step in enumerate(plan.steps, 1):
        label = f"{step.kind} {step.name}"
        progress(f"[{index}/{len(plan.steps)}] deleting {label}")
        try:
            try:
                step.delete()
            except ClientError as error:
                if _code(error) not in GONE:
                    raise
            if step.gone is not None:
                wait_until(step.gone, label=label, timeout=timeout, poll=poll, progress=progress)
        except (ClientError, KitError) as error:
            progress(f"  FAILED: {error}")
            return TeardownResult(deleted=deleted, retained=plan.retained, failed=[f"{label}: {error}"])
        deleted.append(label)
    return TeardownResult(deleted=deleted, retained=plan.retained, failed=[])
