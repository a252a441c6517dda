"""Deploy a CDK cloud assembly to the embedded AWS, and tear stacks down again.

How a stack goes in (``deploy_stack``):

1. ``plan.plan_template`` sorts its resources into native (moto's CloudFormation creates them),
   api (types created here through their service API: ``sagemaker_api``, ``service_api``), predicted, custom and
   unsupported (all three reported unchecked), and gives each a wave.
2. Wave 0 is a ``CreateStack`` with the native resources that need nothing from the API side.
   References to stripped resources are replaced by literals: real values for API-created
   resources, predictions or ``local-placeholder`` values for the rest. Extra stack *outputs*
   ("probes") ask moto for every ``Ref``/``Fn::GetAtt`` the API side needs, so moto resolves
   the ids it generated and this module resolves the rest of the intrinsics in Python
   (``intrinsics.Evaluator``: parameters incl. ``AWS::SSM::Parameter::Value<...>``, imports,
   mappings, conditions).
3. The API side of the wave is created in dependency order and each result is described again.
4. Later waves are ``UpdateStack`` calls whose templates only *add* resources (earlier ones are
   kept byte-identical, so moto modifies nothing).
5. Every resource is checked with a describe/list call (``verify.Verifier``); the outcome lands
   in a ``report.StackReport``.

Why not ``cdk deploy``: moto (5.2) creates stacks from change sets with an empty output map and
never registers their exports, so cross-stack references break; and ``--method=direct`` sends a
template URL on the endpoint's host (``http://127.0.0.1:PORT/bucket/key``) that moto reads as
bucket ``127``. ``cdk bootstrap`` does work and is used (``bootstrap``), with a fallback that
creates the asset bucket and the version parameter directly.

moto behaviours worked around here (none patched):

* ``UpdateStack`` does not register exports added by the update (only ``CreateStack`` does), and
  ``DeleteStack`` then fails with a ``KeyError`` on them. Exports whose values are only known
  after wave 0 are therefore dropped from the stack's outputs and published by a companion
  stack ``<stack>-LocalExports`` (deleted by ``destroy_stack``).
* A failed ``CreateStack`` leaves the stack and its exports registered; the engine deletes the
  remains so that a retry can work.
* Only ``DeletionPolicy: Retain`` is honoured on delete; ``RetainExceptOnCreate`` is sent as
  ``Retain`` (the creation succeeded, so both mean the same from then on).
* ``Fn::GetAtt`` to an attribute moto's model lacks passes the raw intrinsic through; such
  references are replaced by placeholders and noted.
* KMS keys from CloudFormation: moto stores an object key policy and then fails ``DescribeKey``
  with a 500, and it passes ``{Key, Value}`` tags to a tagger that wants ``{TagKey, TagValue}``
  (``CreateStack`` fails with a 500). Policies are sent as ``Fn::ToJsonString``, tags renamed.
  SSM parameter tags (a map in CloudFormation) are read by moto as a list: sent as a list.
  These rewrites live in ``moto_shape_fixes``.
* Templates synthesized without AZ lookups carry ``dummy1a``-style zones that moto rejects;
  they are mapped to the region's zones and noted.
* Templates above CloudFormation's 51,200-byte body limit are uploaded to the embedded S3 and
  passed as ``https://s3.<region>.amazonaws.com/<bucket>/<key>``, the URL form moto resolves.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

from botocore.exceptions import ClientError

from mlops_kit.local import sagemaker_api, service_api
from mlops_kit.local.assembly import CloudAssembly, StackArtifact, load_assembly, publish_file_assets
from mlops_kit.local.intrinsics import Evaluator, UnresolvedError, getatt_pairs, substitute
from mlops_kit.local.plan import (
    API,
    API_PHASE,
    CUSTOM,
    NATIVE,
    StackPlan,
    fix_dummy_azs,
    native_getatt_supported,
    plan_template,
)
from mlops_kit.local.report import (
    CLOUDFORMATION,
    FAILED,
    SERVICE_API,
    UNCHECKED,
    DeployResult,
    ResourceResult,
    StackReport,
)
from mlops_kit.local.server import environment_for
from mlops_kit.local.verify import UNVERIFIABLE, Verifier

BOOTSTRAP_QUALIFIER = "hnb659fds"
BOOTSTRAP_VERSION = "30"  # what the version parameter says when the fallback bootstraps
TEMPLATE_BODY_LIMIT = 51_200
STATE_PREFIX = "mlops-kit-local/stacks"
EXPORTS_SUFFIX = "-LocalExports"
PROBE_PREFIX = "MlopsKitLocalProbe"

Progress = Callable[[str], None]


class AwsTarget(Protocol):
    """What the engine needs from an embedded AWS (``EmbeddedAws`` or ``AwsEndpoint``)."""

    region: str
    account_id: str

    @property
    def endpoint(self) -> str: ...

    def client(self, service: str) -> Any: ...


def printer(stream: TextIO | None = None) -> Progress:
    """A progress callback that prints lines to ``stream`` (default stdout) as they happen."""

    def emit(line: str) -> None:
        print(line, file=stream or sys.stdout, flush=True)

    return emit


def _quiet(_line: str) -> None:
    return None


def asset_bucket(target: AwsTarget) -> str:
    return f"cdk-{BOOTSTRAP_QUALIFIER}-assets-{target.account_id}-{target.region}"


# -- bootstrap ---------------------------------------------------------------------------------
@dataclass
class BootstrapResult:
    method: str  # "cdk" (the real CDK CLI) or "api" (bucket and parameter created directly)
    seconds: float
    detail: str = ""


def find_cdk_cli(start: Path | None = None) -> list[str] | None:
    """``node_modules/.bin/cdk`` in ``start`` or a parent folder, else ``cdk`` on PATH."""
    folder = (start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        cli = candidate / "node_modules" / ".bin" / "cdk"
        if cli.exists():
            return [str(cli)]
    found = shutil.which("cdk")
    return [found] if found else None


def _bootstrapped(target: AwsTarget) -> bool:
    try:
        target.client("s3").head_bucket(Bucket=asset_bucket(target))
        target.client("ssm").get_parameter(Name=f"/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/version")
    except ClientError:
        return False
    return True


def bootstrap(
    target: AwsTarget,
    *,
    cdk_command: Sequence[str] | bool | None = None,
    progress: Progress = _quiet,
    timeout: float = 180.0,
) -> BootstrapResult:
    """Bootstrap the embedded account: ``cdk bootstrap`` if possible, else the minimum by API.

    ``cdk_command``: the CDK CLI argv (``None``: look for ``node_modules/.bin/cdk``; ``False``:
    do not use the CLI). Either way the result is checked: the asset bucket and the
    ``/cdk-bootstrap/hnb659fds/version`` parameter must exist afterwards.
    """
    started = time.monotonic()
    if _bootstrapped(target):
        return BootstrapResult("existing", 0.0, "already bootstrapped")
    command: list[str] | None
    if cdk_command is False:
        command = None
    elif cdk_command is None or cdk_command is True:
        command = find_cdk_cli()
    else:
        command = list(cdk_command)
    detail = "CDK CLI not used" if cdk_command is False else "CDK CLI not found"
    if command:
        environment = f"aws://{target.account_id}/{target.region}"
        progress(f"bootstrap: {' '.join([Path(command[0]).name, *command[1:]])} bootstrap {environment}")
        env = environment_for(target.endpoint, region=target.region)
        env.update({"CDK_DISABLE_VERSION_CHECK": "1", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "1"})
        # An empty working folder: with an explicit environment there is nothing to synthesize.
        with tempfile.TemporaryDirectory(prefix="mlops-kit-bootstrap-") as work:
            try:
                finished = subprocess.run(
                    [*command, "bootstrap", environment, "--no-notices", "--ci"],
                    cwd=work,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                    check=False,
                )
                ok = finished.returncode == 0 and _bootstrapped(target)
                tail = (finished.stderr or finished.stdout).strip().splitlines()[-1:] or [""]
                detail = f"cdk bootstrap exited {finished.returncode}: {tail[0]}"
            except (OSError, subprocess.TimeoutExpired) as error:
                ok, detail = False, f"cdk bootstrap did not run: {error}"
        if ok:
            return BootstrapResult("cdk", time.monotonic() - started, "cdk bootstrap")
        progress(
            f"bootstrap: the CDK CLI failed ({detail}); creating the bucket and version parameter directly"
        )
    s3 = target.client("s3")
    with contextlib.suppress(ClientError):
        s3.create_bucket(Bucket=asset_bucket(target))
    target.client("ssm").put_parameter(
        Name=f"/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/version",
        Value=BOOTSTRAP_VERSION,
        Type="String",
        Overwrite=True,
    )
    if not _bootstrapped(target):
        raise RuntimeError(
            "bootstrap failed: the asset bucket or the version parameter is missing afterwards"
        )
    return BootstrapResult("api", time.monotonic() - started, detail)


# -- one stack ---------------------------------------------------------------------------------
def _placeholder(target: AwsTarget, logical_id: str, attr: str | None) -> str:
    if attr and (attr == "Arn" or attr.endswith("Arn")):
        return f"arn:aws:cloudformation:{target.region}:{target.account_id}:local-placeholder/{logical_id}/{attr}"
    return f"local-placeholder-{logical_id}" + (f"-{attr}" if attr else "")


def _parse_output_value(value: str) -> Any:
    # moto renders list-valued outputs with Python's str(); turn them back into lists.
    if value.startswith("[") and value.endswith("]"):
        with contextlib.suppress(ValueError, SyntaxError):
            return ast.literal_eval(value)
    return value


def _kms_key_fixes(props: dict[str, Any]) -> list[str]:
    notes = []
    policy = props.get("KeyPolicy")
    if isinstance(policy, dict) and "Fn::ToJsonString" not in policy:
        # moto keeps an object here and DescribeKey then fails with a 500 (json.loads on a dict).
        props["KeyPolicy"] = {"Fn::ToJsonString": policy}
        notes.append(
            "KMS key policies are sent to moto as JSON strings (Fn::ToJsonString): it fails DescribeKey on objects"
        )
    tags = props.get("Tags")
    if isinstance(tags, list) and tags and all(isinstance(t, dict) and "Key" in t for t in tags):
        # moto hands CloudFormation's {Key, Value} tags to a tagger that wants {TagKey, TagValue}.
        props["Tags"] = [{"TagKey": t["Key"], "TagValue": t.get("Value", "")} for t in tags]
        notes.append(
            "KMS key tags are renamed to TagKey/TagValue for moto (its CreateStack fails on Key/Value)"
        )
    return notes


def _ssm_parameter_fixes(props: dict[str, Any]) -> list[str]:
    tags = props.get("Tags")
    if isinstance(tags, dict) and not any(k.startswith("Fn::") or k == "Ref" for k in tags):
        # CloudFormation gives SSM parameter tags as a map; moto reads them as a list of {Key, Value}.
        props["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        return [
            "SSM parameter tags are sent to moto as a {Key, Value} list (its CreateStack fails on the map)"
        ]
    return []


_MOTO_SHAPE_FIXES: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "AWS::KMS::Key": _kms_key_fixes,
    "AWS::SSM::Parameter": _ssm_parameter_fixes,
}


def moto_shape_fixes(cfn_type: str, props: dict[str, Any]) -> list[str]:
    """Rewrite ``props`` in place where moto misreads valid CloudFormation; returns what was done."""
    fix = _MOTO_SHAPE_FIXES.get(cfn_type)
    return fix(props) if fix else []


class _StackDeployer:
    def __init__(self, stack: StackArtifact, target: AwsTarget, progress: Progress) -> None:
        self.stack = stack
        self.target = target
        self.progress = progress
        self.cf = target.client("cloudformation")
        self.report = StackReport(stack.stack_name)
        self.outcomes: dict[str, sagemaker_api.ApiOutcome] = {}
        self.probes: dict[tuple[str, str | None], Any] = {}
        self.stack_id = ""
        self._exports: dict[str, Any] | None = None
        self._noted: set[str] = set()

    def say(self, line: str) -> None:
        self.progress(f"{self.stack.stack_name}: {line}")

    def note(self, text: str) -> None:
        if text not in self._noted:
            self._noted.add(text)
            self.report.notes.append(text)

    # -- values ----------------------------------------------------------------------------
    def exports(self, refresh: bool = False) -> dict[str, Any]:
        if self._exports is None or refresh:
            found: dict[str, Any] = {}
            for page in self.cf.get_paginator("list_exports").paginate():
                found.update({e["Name"]: e["Value"] for e in page["Exports"]})
            self._exports = found
        return self._exports

    def import_value(self, name: str) -> Any:
        if name not in self.exports():
            self.exports(refresh=True)
        if name not in self.exports():
            raise UnresolvedError(f"no export named {name!r} (is the exporting stack deployed?)")
        return self.exports()[name]

    def parameters(self, template: Mapping[str, Any]) -> dict[str, Any]:
        ssm = self.target.client("ssm")
        values: dict[str, Any] = {}
        for name, spec in (template.get("Parameters") or {}).items():
            value: Any = self.stack.parameters.get(name, spec.get("Default"))
            kind = str(spec.get("Type", "String"))
            if value is None:
                raise UnresolvedError(f"parameter {name} has no value and no default")
            if kind.startswith("AWS::SSM::Parameter::Value<"):
                try:
                    value = ssm.get_parameter(Name=str(value))["Parameter"]["Value"]
                except ClientError as error:
                    raise UnresolvedError(f"parameter {name}: SSM parameter {value} not found") from error
                if "List<" in kind:
                    value = str(value).split(",")
            elif kind == "CommaDelimitedList" or kind.startswith("List<"):
                value = str(value).split(",") if isinstance(value, str) else value
            values[name] = value
        return values

    def evaluator(self, template: Mapping[str, Any], plan: StackPlan, params: Mapping[str, Any]) -> Evaluator:
        def resource_value(logical_id: str, attr: str | None) -> Any:
            resource = plan.resources.get(logical_id)
            if resource is None:
                raise KeyError(logical_id)
            if resource.kind == NATIVE:
                return self.probes[(logical_id, attr)]
            if resource.kind in API_PHASE:
                return self.outcomes[logical_id].value(attr)
            return _placeholder(self.target, logical_id, attr)

        return Evaluator(
            resource_value,
            parameters=params,
            pseudo={
                "AWS::AccountId": self.target.account_id,
                "AWS::Region": self.target.region,
                "AWS::Partition": "aws",
                "AWS::URLSuffix": "amazonaws.com",
                "AWS::StackName": self.stack.stack_name,
                "AWS::StackId": self.stack_id,
                "AWS::NotificationARNs": [],
            },
            conditions=template.get("Conditions") or {},
            mappings=template.get("Mappings") or {},
            import_value=self.import_value,
        )

    def literal_for(self, plan: StackPlan, logical_id: str, attr: str | None) -> Any:
        """The literal that replaces a reference to a stripped resource in a native template."""
        resource = plan.resources[logical_id]
        if resource.kind in API_PHASE and logical_id in self.outcomes:
            try:
                return self.outcomes[logical_id].value(attr)
            except KeyError:
                self.note(f"{logical_id}.{attr}: attribute unknown locally; a placeholder was used")
        return _placeholder(self.target, logical_id, attr)

    # -- templates ---------------------------------------------------------------------------
    def wave_template(
        self, template: dict[str, Any], plan: StackPlan, wave: int
    ) -> tuple[dict[str, Any], dict[str, tuple[str, str | None]]]:
        def replace_if(logical_id: str, attr: str | None) -> bool:
            resource = plan.resources.get(logical_id)
            if resource is None:
                return False
            if resource.kind != NATIVE:
                return True
            if attr is not None and not native_getatt_supported(resource.cfn_type, attr):
                self.note(
                    f"Fn::GetAtt {logical_id}.{attr}: moto's {resource.cfn_type} lacks the attribute; placeholder used"
                )
                return True
            return False

        def lookup(logical_id: str, attr: str | None) -> Any:
            if plan.resources[logical_id].kind == NATIVE:
                return _placeholder(self.target, logical_id, attr)
            return self.literal_for(plan, logical_id, attr)

        body = {k: copy.deepcopy(v) for k, v in template.items() if k not in ("Resources", "Outputs")}
        resources: dict[str, Any] = {}
        for logical_id, resource in template.get("Resources", {}).items():
            planned = plan.resources[logical_id]
            if planned.kind != NATIVE or planned.wave > wave:
                continue
            item = substitute(copy.deepcopy(resource), replace_if, lookup)
            item.setdefault("Properties", {})  # moto adds it in place; keep waves identical
            depends = item.get("DependsOn")
            if depends is not None:
                depends = [depends] if isinstance(depends, str) else list(depends)
                kept = [d for d in depends if d in plan.resources and plan.resources[d].kind == NATIVE]
                if kept:
                    item["DependsOn"] = kept
                else:
                    item.pop("DependsOn")
            if item.get("DeletionPolicy") == "RetainExceptOnCreate":
                item["DeletionPolicy"] = "Retain"
            for text in moto_shape_fixes(planned.cfn_type, item["Properties"]):
                self.note(text)
            resources[logical_id] = item
        if not resources:
            resources["MlopsKitLocalEmpty"] = {
                "Type": "AWS::CloudFormation::WaitConditionHandle",
                "Properties": {},
            }
        body["Resources"] = resources

        outputs: dict[str, Any] = {}
        for key, output in (template.get("Outputs") or {}).items():
            if plan.output_waves[key] > wave:
                continue
            item = substitute(copy.deepcopy(output), replace_if, lookup)
            if plan.output_waves[key] > 0:
                item.pop("Export", None)  # published by the companion stack (moto would not register it)
            outputs[key] = item
        probes: dict[str, tuple[str, str | None]] = {}
        for resource in plan.api_phase_order(wave):
            props = template["Resources"][resource.logical_id].get("Properties") or {}
            for logical_id, attr in sorted(getatt_pairs(props), key=lambda p: (p[0], p[1] or "")):
                dep = plan.resources.get(logical_id)
                if dep is None or dep.kind != NATIVE or (logical_id, attr) in self.probes:
                    continue
                if attr is not None and not native_getatt_supported(dep.cfn_type, attr):
                    self.note(f"Fn::GetAtt {logical_id}.{attr}: moto's {dep.cfn_type} lacks the attribute")
                    continue
                key = f"{PROBE_PREFIX}{len(probes) + len(self.probes)}"
                if (logical_id, attr) in probes.values():
                    continue
                probes[key] = (logical_id, attr)
                value = {"Ref": logical_id} if attr is None else {"Fn::GetAtt": [logical_id, attr]}
                outputs[key] = {"Value": value}
        if outputs:
            body["Outputs"] = outputs
        else:
            body.pop("Outputs", None)
        return body, probes

    def _template_argument(self, body: dict[str, Any], wave: int) -> dict[str, str]:
        text = json.dumps(body, separators=(",", ":"))
        if len(text.encode()) <= TEMPLATE_BODY_LIMIT:
            return {"TemplateBody": text}
        bucket, key = (
            asset_bucket(self.target),
            f"mlops-kit-local/templates/{self.stack.stack_name}-wave{wave}.json",
        )
        self.target.client("s3").put_object(Bucket=bucket, Key=key, Body=text.encode())
        return {"TemplateURL": f"https://s3.{self.target.region}.amazonaws.com/{bucket}/{key}"}

    # -- the deploy --------------------------------------------------------------------------
    def run(self) -> StackReport:
        started = time.monotonic()
        try:
            self._run()
        except Exception as error:
            self.report.error = f"{type(error).__name__}: {error}"
            self.say(f"FAILED: {self.report.error}")
        self.report.seconds = time.monotonic() - started
        return self.report

    def _run(self) -> None:
        dummy: list[str] = []
        template = fix_dummy_azs(self.stack.template(), self.target.region, dummy)
        if dummy:
            self.note(
                f"placeholder zones {sorted(set(dummy))} (synthesized without AZ lookups) mapped to {self.target.region}a.."
            )
        if "Transform" in template:
            self.note(f"template transform {template['Transform']} is not expanded by moto")
        plan = plan_template(template)
        self.report.waves = plan.waves
        kinds = [r.kind for r in plan.resources.values()]
        self.say(
            f"{len(kinds)} resources: {kinds.count(NATIVE)} for CloudFormation, {kinds.count(API)} for the SageMaker API, "
            f"{len(kinds) - kinds.count(NATIVE) - kinds.count(API)} stripped; {plan.waves} wave(s)"
        )
        params = self.parameters(template)
        evaluator = self.evaluator(template, plan, params)
        tags = [{"Key": k, "Value": v} for k, v in self.stack.tags.items()]

        for wave in range(plan.waves):
            body, probes = self.wave_template(template, plan, wave)
            count = sum(1 for k in body["Resources"] if k != "MlopsKitLocalEmpty")
            wave_started = time.monotonic()
            argument = self._template_argument(body, wave)
            parameters = [
                {"ParameterKey": k, "ParameterValue": str(v)} for k, v in self.stack.parameters.items()
            ]
            if wave == 0:
                try:
                    created = self.cf.create_stack(
                        StackName=self.stack.stack_name,
                        Parameters=parameters,
                        Tags=tags,
                        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
                        **argument,
                    )
                except ClientError:
                    self._remove_failed_stack()
                    raise
                self.stack_id = created["StackId"]
                evaluator = self.evaluator(template, plan, params)
                verb = "CreateStack"
            else:
                self.cf.update_stack(
                    StackName=self.stack_id,
                    Parameters=parameters,
                    Tags=tags,
                    Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
                    **argument,
                )
                verb = "UpdateStack"
            status, outputs = self._wait()
            self.say(
                f"wave {wave + 1}/{plan.waves}: {verb} with {count} resources -> {status} ({time.monotonic() - wave_started:.1f} s)"
            )
            for key, pair in probes.items():
                if key in outputs:
                    self.probes[pair] = _parse_output_value(outputs[key])
            for resource in plan.api_phase_order(wave):
                self._api_side(template, plan, evaluator, resource.logical_id)

        self._publish_late_exports(plan)
        self._verify(template, plan, evaluator)
        self._save_state(template, plan)

    def _wait(self, timeout: float = 60.0) -> tuple[str, dict[str, str]]:
        deadline = time.monotonic() + timeout
        while True:
            stack = self.cf.describe_stacks(StackName=self.stack_id or self.stack.stack_name)["Stacks"][0]
            status = stack["StackStatus"]
            if not status.endswith("_IN_PROGRESS") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
            raise RuntimeError(f"stack status {status}: {stack.get('StackStatusReason', 'no reason given')}")
        outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs") or []}
        return status, outputs

    def _remove_failed_stack(self) -> None:
        # moto keeps a stack (and its exports) whose CreateStack failed; remove them for a retry.
        with contextlib.suppress(ClientError):
            self.cf.delete_stack(StackName=self.stack.stack_name)

    def _api_side(
        self, template: Mapping[str, Any], plan: StackPlan, evaluator: Evaluator, logical_id: str
    ) -> None:
        resource = plan.resources[logical_id]
        raw = template["Resources"][logical_id]
        ctx = {
            "account_id": self.target.account_id,
            "region": self.target.region,
            "stack_name": self.stack.stack_name,
        }
        if resource.condition and not evaluator.condition(resource.condition):
            return
        try:
            props = evaluator.resolve(raw.get("Properties") or {}) or {}
        except (UnresolvedError, KeyError, IndexError, TypeError, ValueError) as error:
            ref, attrs = sagemaker_api.predict(logical_id, resource.cfn_type, {}, ctx)
            self.outcomes[logical_id] = sagemaker_api.ApiOutcome(
                logical_id,
                resource.cfn_type,
                created=False,
                failed=resource.kind == API,
                ref=ref,
                attributes=attrs,
                reason=f"could not resolve its properties: {error}",
            )
            return
        if resource.kind == API:
            if service_api.is_api_type(resource.cfn_type):
                service = service_api.SERVICES[resource.cfn_type]
                outcome = service_api.create(self.target.client, logical_id, resource.cfn_type, props, ctx)
            else:
                service = "SageMaker"
                outcome = sagemaker_api.create(
                    self.target.client("sagemaker"), logical_id, resource.cfn_type, props, ctx
                )
            verb = (
                f"created via {service} API"
                if outcome.created
                else f"FAILED via {service} API: {outcome.reason}"
                if outcome.failed
                else f"not created ({outcome.reason})"
            )
            self.say(f"{logical_id} ({resource.cfn_type}) {verb}")
        else:
            ref, attrs = sagemaker_api.predict(logical_id, resource.cfn_type, props, ctx)
            outcome = sagemaker_api.ApiOutcome(
                logical_id,
                resource.cfn_type,
                created=False,
                ref=ref,
                attributes=attrs,
                reason=sagemaker_api.unsupported_reason(resource.cfn_type),
            )
        self.outcomes[logical_id] = outcome

    def _publish_late_exports(self, plan: StackPlan) -> None:
        late = [k for k, w in plan.output_waves.items() if w > 0]
        template = self.stack.template()
        exported = {k: template["Outputs"][k]["Export"] for k in late if "Export" in template["Outputs"][k]}
        if not exported:
            return
        _status, outputs = self._wait()
        evaluator = Evaluator(
            lambda _l, _a: "",
            {},
            {
                "AWS::StackName": self.stack.stack_name,
                "AWS::Region": self.target.region,
                "AWS::AccountId": self.target.account_id,
            },
        )
        companion: dict[str, Any] = {
            "Description": f"Exports of {self.stack.stack_name} known only after its SageMaker API resources (mlops-kit local)",
            "Resources": {
                "MlopsKitLocalEmpty": {"Type": "AWS::CloudFormation::WaitConditionHandle", "Properties": {}}
            },
            "Outputs": {},
        }
        for key, export in exported.items():
            if key not in outputs:
                self.note(f"output {key} has no value; export not published")
                continue
            name = evaluator.resolve(export.get("Name"))
            companion["Outputs"][key] = {"Value": outputs[key], "Export": {"Name": name}}
        name = self.stack.stack_name + EXPORTS_SUFFIX
        with contextlib.suppress(ClientError):
            self.cf.delete_stack(StackName=name)
        self.cf.create_stack(StackName=name, TemplateBody=json.dumps(companion))
        self.exports(refresh=True)
        self.note(
            f"{len(companion['Outputs'])} export(s) that depend on API-created resources are published by stack {name}"
        )
        self.say(f"published {len(companion['Outputs'])} late export(s) through {name}")

    def _verify(self, template: Mapping[str, Any], plan: StackPlan, evaluator: Evaluator) -> None:
        listed: dict[str, tuple[str, str]] = {}
        for page in self.cf.get_paginator("list_stack_resources").paginate(StackName=self.stack_id):
            for summary in page["StackResourceSummaries"]:
                if summary.get("ResourceType"):
                    listed[summary["LogicalResourceId"]] = (
                        summary["ResourceType"],
                        summary.get("PhysicalResourceId", ""),
                    )
        verifier = Verifier(self.target.client)
        verifier.physical_ids = {k: v[1] for k, v in listed.items()}
        started, checked = time.monotonic(), 0
        for logical_id, resource in plan.resources.items():
            if resource.condition:
                try:
                    if not evaluator.condition(resource.condition):
                        continue
                except UnresolvedError as error:
                    self.note(f"condition {resource.condition} of {logical_id} not evaluated: {error}")
            kind, cfn_type = resource.kind, resource.cfn_type
            if kind == NATIVE:
                if logical_id not in listed:
                    self.report.add(
                        ResourceResult(
                            logical_id, cfn_type, FAILED, reason="moto's CloudFormation did not create it"
                        )
                    )
                    continue
                physical = listed[logical_id][1]
                if not verifier.has_check(cfn_type):
                    reason = UNVERIFIABLE.get(cfn_type, "no describe check for this type yet")
                    self.report.add(ResourceResult(logical_id, cfn_type, UNCHECKED, physical, reason))
                    continue
                checked += 1
                problem = verifier.check(
                    cfn_type, physical, template["Resources"][logical_id].get("Properties") or {}
                )
                outcome = FAILED if problem else CLOUDFORMATION
                self.report.add(ResourceResult(logical_id, cfn_type, outcome, physical, problem or ""))
            elif kind in API_PHASE:
                api = self.outcomes.get(logical_id)
                if api is None:
                    self.report.add(
                        ResourceResult(
                            logical_id, cfn_type, FAILED, reason="never reached (an earlier wave failed)"
                        )
                    )
                elif api.created:
                    self.report.add(
                        ResourceResult(
                            logical_id, cfn_type, SERVICE_API, api.physical_id, "; ".join(api.notes)
                        )
                    )
                    for text in api.notes:
                        self.note(f"{logical_id}: {text}")
                else:
                    self.report.add(
                        ResourceResult(
                            logical_id,
                            cfn_type,
                            FAILED if api.failed else UNCHECKED,
                            api.physical_id,
                            api.reason,
                        )
                    )
            elif kind == CUSTOM:
                self.report.add(
                    ResourceResult(
                        logical_id,
                        cfn_type,
                        UNCHECKED,
                        reason="custom resource: its Lambda handler would need Docker in moto; not invoked, values are placeholders",
                    )
                )
            elif cfn_type == "AWS::CDK::Metadata":
                self.report.add(
                    ResourceResult(
                        logical_id, cfn_type, UNCHECKED, reason="CDK metadata only; nothing to create"
                    )
                )
            else:
                self.report.add(
                    ResourceResult(
                        logical_id,
                        cfn_type,
                        UNCHECKED,
                        reason="moto's CloudFormation does not support this type; not created",
                    )
                )
        self.say(f"verified {checked} resources with describe calls ({time.monotonic() - started:.1f} s)")

    def _save_state(self, template: Mapping[str, Any], plan: StackPlan) -> None:
        state = {
            "stack_name": self.stack.stack_name,
            "stack_id": self.stack_id,
            "api_resources": [
                {
                    **{
                        k: v
                        for k, v in asdict(o).items()
                        if k in ("logical_id", "cfn_type", "created", "ref", "physical_id", "attributes")
                    },
                    "deletion_policy": template["Resources"][o.logical_id].get("DeletionPolicy", "Delete"),
                }
                for o in self.outcomes.values()
            ],
            "companion_stack": self.stack.stack_name + EXPORTS_SUFFIX
            if any(
                w > 0 and "Export" in (template.get("Outputs") or {})[k] for k, w in plan.output_waves.items()
            )
            else None,
        }
        self.target.client("s3").put_object(
            Bucket=asset_bucket(self.target),
            Key=f"{STATE_PREFIX}/{self.stack.stack_name}.json",
            Body=json.dumps(state, default=str).encode(),
        )


def deploy_stack(
    stack: StackArtifact,
    target: AwsTarget,
    *,
    progress: Progress = _quiet,
    published: set[tuple[str, str]] | None = None,
) -> StackReport:
    """Upload ``stack``'s file assets and deploy it (the account must be bootstrapped)."""
    started = time.monotonic()
    uploads = publish_file_assets(stack, target.client("s3"), progress, published)
    if uploads:
        progress(f"{stack.stack_name}: uploaded {len(uploads)} file asset(s) to the embedded S3")
    report = _StackDeployer(stack, target, progress).run()
    if stack.docker_images:
        report.notes.append(f"{len(stack.docker_images)} Docker image asset(s) not built (no Docker)")
    report.seconds = time.monotonic() - started
    return report


def deploy_assembly(
    assembly: str | os.PathLike[str] | CloudAssembly,
    target: AwsTarget,
    *,
    stacks: Iterable[str] | None = None,
    cdk_command: Sequence[str] | bool | None = None,
    progress: Progress = _quiet,
    stop_on_failure: bool = True,
) -> DeployResult:
    """Bootstrap, then deploy the assembly's stacks (all, or those matching ``stacks``) in order.

    A failed stack stops the deploy (``stop_on_failure``); the stacks that depend on it are
    reported with an error instead of being attempted.
    """
    started = time.monotonic()
    if not isinstance(assembly, CloudAssembly):
        assembly = load_assembly(assembly, account_id=target.account_id, region=target.region)
    chosen = assembly.select(stacks)
    progress(
        f"deploying {len(chosen)} stack(s) to the embedded AWS at {target.endpoint}: {', '.join(s.stack_name for s in chosen)}"
    )
    boot = bootstrap(target, cdk_command=cdk_command, progress=progress)
    progress(
        f"bootstrap: {boot.method} ({boot.seconds:.1f} s){'; ' + boot.detail if boot.method == 'api' else ''}"
    )
    reports: list[StackReport] = []
    failed: set[str] = set()
    published: set[tuple[str, str]] = set()
    for stack in chosen:
        blocked = [d for d in stack.dependencies if d in failed]
        if blocked or (failed and stop_on_failure):
            reason = f"not deployed: {', '.join(blocked) if blocked else 'an earlier stack'} failed"
            reports.append(StackReport(stack.stack_name, error=reason))
            failed.add(stack.artifact_id)
            progress(f"{stack.stack_name}: {reason}")
            continue
        progress(f"{stack.stack_name}: deploying")
        report = deploy_stack(stack, target, progress=progress, published=published)
        reports.append(report)
        totals = report.totals()
        progress(
            f"{stack.stack_name}: {'done' if report.ok else 'FAILED'} in {report.seconds:.1f} s "
            f"({totals[CLOUDFORMATION]} by CloudFormation, {totals[SERVICE_API]} via API, "
            f"{totals[UNCHECKED]} unchecked, {totals[FAILED]} failed)"
        )
        if not report.ok:
            failed.add(stack.artifact_id)
    return DeployResult(
        reports, bootstrap=boot.method, seconds=time.monotonic() - started, endpoint=target.endpoint
    )


# -- teardown ----------------------------------------------------------------------------------
@dataclass
class DestroyReport:
    stack_name: str
    deleted: list[str] = field(default_factory=list)  # "LogicalId (Type)" confirmed gone or deleted
    retained: list[ResourceResult] = field(default_factory=list)  # DeletionPolicy Retain, still there
    left_behind: list[ResourceResult] = field(default_factory=list)  # should be gone but is not
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and all(r.outcome != FAILED for r in self.retained)


_API_DELETERS: dict[str, Callable[[Any, Mapping[str, Any]], None]] = {
    "AWS::SageMaker::Pipeline": lambda c, r: c.delete_pipeline(
        PipelineName=r["ref"], ClientRequestToken="mlops-kit-local-delete-000000000000"
    ),
    "AWS::SageMaker::Domain": lambda c, r: c.delete_domain(DomainId=r["ref"]),
    "AWS::SageMaker::ModelCard": lambda c, r: c.delete_model_card(
        ModelCardName=r["physical_id"].split("/")[-1]
    ),
    "AWS::SageMaker::DataQualityJobDefinition": lambda c, r: c.delete_data_quality_job_definition(
        JobDefinitionName=r["physical_id"].split("/")[-1]
    ),
    "AWS::SageMaker::ModelQualityJobDefinition": lambda c, r: c.delete_model_quality_job_definition(
        JobDefinitionName=r["physical_id"].split("/")[-1]
    ),
    "AWS::SageMaker::ModelBiasJobDefinition": lambda c, r: c.delete_model_bias_job_definition(
        JobDefinitionName=r["physical_id"].split("/")[-1]
    ),
    "AWS::SageMaker::ModelExplainabilityJobDefinition": lambda c, r: (
        c.delete_model_explainability_job_definition(JobDefinitionName=r["physical_id"].split("/")[-1])
    ),
}


def _detach_and_delete_policy(target: AwsTarget, arn: str, props: Mapping[str, Any]) -> None:
    iam = target.client("iam")
    entities = iam.list_entities_for_policy(PolicyArn=arn)
    for role in entities.get("PolicyRoles", []):
        iam.detach_role_policy(RoleName=role["RoleName"], PolicyArn=arn)
    for user in entities.get("PolicyUsers", []):
        iam.detach_user_policy(UserName=user["UserName"], PolicyArn=arn)
    for group in entities.get("PolicyGroups", []):
        iam.detach_group_policy(GroupName=group["GroupName"], PolicyArn=arn)
    iam.delete_policy(PolicyArn=arn)


# Native types moto's DeleteStack silently leaves in place (their models have no delete hook),
# deleted here first, in this order, so the stack's VPC can go too (moto refuses to delete a
# VPC that still has non-main route tables).
_PREDELETE: list[tuple[str, Callable[[AwsTarget, str, Mapping[str, Any]], None]]] = [
    ("AWS::EC2::VPCEndpoint", lambda t, pid, p: t.client("ec2").delete_vpc_endpoints(VpcEndpointIds=[pid])),
    ("AWS::EC2::NatGateway", lambda t, pid, p: t.client("ec2").delete_nat_gateway(NatGatewayId=pid)),
    ("AWS::EC2::FlowLog", lambda t, pid, p: t.client("ec2").delete_flow_logs(FlowLogIds=[pid])),
    (
        "AWS::EC2::EIP",
        lambda t, pid, p: t.client("ec2").release_address(
            **({"AllocationId": pid} if pid.startswith("eipalloc-") else {"PublicIp": pid})
        ),
    ),
    ("AWS::EC2::RouteTable", lambda t, pid, p: t.client("ec2").delete_route_table(RouteTableId=pid)),
    (
        "AWS::EC2::VPCGatewayAttachment",
        lambda t, pid, p: (
            t.client("ec2").detach_internet_gateway(
                InternetGatewayId=p["InternetGatewayId"], VpcId=p["VpcId"]
            )
            if "InternetGatewayId" in p
            else None
        ),
    ),
    (
        "AWS::EC2::InternetGateway",
        lambda t, pid, p: t.client("ec2").delete_internet_gateway(InternetGatewayId=pid),
    ),
    ("AWS::IAM::ManagedPolicy", _detach_and_delete_policy),
]


def destroy_stack(target: AwsTarget, stack_name: str, *, progress: Progress = _quiet) -> DestroyReport:
    """Delete a stack deployed by ``deploy_stack``, honouring ``DeletionPolicy: Retain``.

    Native resources go through moto's ``DeleteStack`` (which honours ``Retain``); resources
    created through the SageMaker API are deleted through it unless retained (where moto has a
    delete call); the companion exports stack goes too. Afterwards every retained resource is
    checked to still exist, and every deleted one to be gone.
    """
    cf = target.client("cloudformation")
    report = DestroyReport(stack_name)
    try:
        stack_id = cf.describe_stacks(StackName=stack_name)["Stacks"][0]["StackId"]
        template = cf.get_template(StackName=stack_id)["TemplateBody"]
        template = json.loads(template) if isinstance(template, str) else template
        listed = [
            s
            for page in cf.get_paginator("list_stack_resources").paginate(StackName=stack_id)
            for s in page["StackResourceSummaries"]
            if s.get("ResourceType")
        ]
    except ClientError as error:
        report.error = f"cannot read stack {stack_name}: {error}"
        return report
    state: dict[str, Any] = {}
    with contextlib.suppress(ClientError, ValueError):
        body = target.client("s3").get_object(
            Bucket=asset_bucket(target), Key=f"{STATE_PREFIX}/{stack_name}.json"
        )["Body"]
        state = json.loads(body.read())

    progress(
        f"{stack_name}: deleting ({len(listed)} CloudFormation resources, {len(state.get('api_resources', []))} via API)"
    )
    physical = {s["LogicalResourceId"]: s.get("PhysicalResourceId", "") for s in listed}
    resolver = Verifier(target.client)
    resolver.physical_ids = physical
    for cfn_type, delete in _PREDELETE:
        for summary in listed:
            body = template.get("Resources", {}).get(summary["LogicalResourceId"], {})
            if summary["ResourceType"] != cfn_type or body.get("DeletionPolicy") == "Retain":
                continue
            props = {k: resolver.resolve_ref(v) for k, v in (body.get("Properties") or {}).items()}
            try:
                delete(target, summary.get("PhysicalResourceId", ""), props)
            except ClientError as error:
                progress(
                    f"{stack_name}: could not delete {summary['LogicalResourceId']} ({cfn_type}) first: {error}"
                )
    try:
        cf.delete_stack(StackName=stack_id)
        status = cf.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
        if status != "DELETE_COMPLETE":
            report.error = f"stack status after delete: {status}"
    except ClientError as error:
        report.error = f"DeleteStack failed: {error}"
    if state.get("companion_stack"):
        with contextlib.suppress(ClientError):
            cf.delete_stack(StackName=state["companion_stack"])

    verifier = Verifier(target.client)
    resources = template.get("Resources", {})
    for summary in listed:
        logical_id, cfn_type, physical = (
            summary["LogicalResourceId"],
            summary["ResourceType"],
            summary.get("PhysicalResourceId", ""),
        )
        policy = resources.get(logical_id, {}).get("DeletionPolicy", "Delete")
        props = resources.get(logical_id, {}).get("Properties") or {}
        label = f"{logical_id} ({cfn_type})"
        if not verifier.has_check(cfn_type):
            (
                report.deleted.append(label)
                if policy != "Retain"
                else report.retained.append(
                    ResourceResult(logical_id, cfn_type, UNCHECKED, physical, "retained; no describe check")
                )
            )
            continue
        problem = verifier.check(cfn_type, physical, props)
        if policy == "Retain":
            report.retained.append(
                ResourceResult(
                    logical_id, cfn_type, FAILED if problem else CLOUDFORMATION, physical, problem or ""
                )
            )
        elif problem:
            report.deleted.append(label)
        else:
            report.left_behind.append(
                ResourceResult(
                    logical_id,
                    cfn_type,
                    UNCHECKED,
                    physical,
                    "still exists after DeleteStack (moto does not delete this type)",
                )
            )

    sagemaker = target.client("sagemaker")
    for record in state.get("api_resources", []):
        if not record.get("created"):
            continue
        label = f"{record['logical_id']} ({record['cfn_type']})"
        if record.get("deletion_policy") in ("Retain", "RetainExceptOnCreate"):
            report.retained.append(
                ResourceResult(
                    record["logical_id"],
                    record["cfn_type"],
                    SERVICE_API,
                    record.get("physical_id", ""),
                    "retained",
                )
            )
            continue
        service_deleter = service_api.DELETERS.get(record["cfn_type"])
        if service_deleter is not None:
            try:
                service_deleter(target.client, {**record, "account_id": target.account_id})
                report.deleted.append(label)
            except (ClientError, RuntimeError) as error:
                report.left_behind.append(
                    ResourceResult(
                        record["logical_id"],
                        record["cfn_type"],
                        FAILED,
                        record.get("physical_id", ""),
                        str(error),
                    )
                )
            continue
        deleter = _API_DELETERS.get(record["cfn_type"])
        if deleter is None:
            report.left_behind.append(
                ResourceResult(
                    record["logical_id"],
                    record["cfn_type"],
                    UNCHECKED,
                    record.get("physical_id", ""),
                    "moto has no delete call for this type",
                )
            )
            continue
        try:
            deleter(sagemaker, record)
            report.deleted.append(label)
        except ClientError as error:
            report.left_behind.append(
                ResourceResult(
                    record["logical_id"],
                    record["cfn_type"],
                    FAILED,
                    record.get("physical_id", ""),
                    str(error),
                )
            )
    progress(
        f"{stack_name}: {'deleted' if report.error is None else 'FAILED: ' + report.error}; "
        f"{len(report.deleted)} deleted, {len(report.retained)} retained, {len(report.left_behind)} left behind"
    )
    return report


__all__ = [
    "AwsTarget",
    "BootstrapResult",
    "DestroyReport",
    "bootstrap",
    "deploy_assembly",
    "deploy_stack",
    "destroy_stack",
    "find_cdk_cli",
    "printer",
]
