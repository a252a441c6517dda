"""Principal Mapper as the judge of the synthesized policies: roles as pmapper nodes, offline.

The templates' intrinsic functions are resolved with the kit's own evaluator
(``mlops_kit.local.intrinsics.Evaluator``) for one pretend account and region; physical
names CloudFormation would generate are predicted from logical IDs (they only need to be
stable and distinct). Policies attach across stacks the way IAM does it: by role name.
Principal Mapper (``principalmapper.querying.query_interface.local_check_authorization_full``)
then evaluates identity policies, the permission boundary, resource policies and
conditions. Its 1.1.5 release imports ``collections.Mapping``/``MutableMapping``, which
Python 3.10 removed: the aliases below come first (pinned in pyproject.toml for this reason).
"""

from __future__ import annotations

import collections
import collections.abc
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

collections.Mapping = collections.abc.Mapping  # type: ignore[attr-defined]
collections.MutableMapping = collections.abc.MutableMapping  # type: ignore[attr-defined]

from principalmapper.common import Node, Policy  # noqa: E402
from principalmapper.querying.query_interface import local_check_authorization_full  # noqa: E402

from mlops_kit.local.intrinsics import Evaluator, UnresolvedError  # noqa: E402

ACCOUNT = "111111111111"
REGION = "eu-west-1"
PSEUDO = {
    "AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "stack", "AWS::StackId": "stack-id", "AWS::NotificationARNs": [],
}


def _physical(stack: str, template: dict[str, Any], logical_id: str, attr: str | None) -> Any:
    """A predicted Ref/GetAtt value for a resource, shaped like the real one.

    Generated names carry the stack's name, as CloudFormation's do: two project stacks
    share logical IDs (``TeamRole...``) but never physical names.
    """
    resource = template["Resources"][logical_id]
    kind, props = resource["Type"], resource.get("Properties", {})
    region_account = f"{REGION}:{ACCOUNT}"
    logical_id = f"{stack}-{logical_id}"
    if kind == "AWS::IAM::Role":
        name = props.get("RoleName", logical_id)
        return {None: name, "Arn": f"arn:aws:iam::{ACCOUNT}:role/{name}", "RoleId": f"AROA{logical_id.upper()[:16]}"}[attr]
    if kind == "AWS::IAM::ManagedPolicy":
        return f"arn:aws:iam::{ACCOUNT}:policy/{props.get('ManagedPolicyName', logical_id)}"
    if kind == "AWS::S3::Bucket":
        name = props.get("BucketName", logical_id.lower())
        return {None: name, "Arn": f"arn:aws:s3:::{name}"}.get(attr, name)
    if kind == "AWS::KMS::Key":
        return {None: logical_id, "KeyId": logical_id, "Arn": f"arn:aws:kms:{region_account}:key/{logical_id}"}[attr]
    if kind == "AWS::SNS::Topic":
        return f"arn:aws:sns:{region_account}:{logical_id}"
    if kind == "AWS::StepFunctions::StateMachine":
        return {None: f"arn:aws:states:{region_account}:stateMachine:{logical_id}", "Arn": f"arn:aws:states:{region_account}:stateMachine:{logical_id}", "Name": logical_id}[attr]
    if kind == "AWS::SageMaker::ModelPackageGroup":
        name = props["ModelPackageGroupName"]
        return {None: name, "ModelPackageGroupArn": f"arn:aws:sagemaker:{region_account}:model-package-group/{name}"}[attr]
    if kind == "AWS::SageMaker::UserProfile":
        return f"arn:aws:sagemaker:{region_account}:user-profile/d-kit/{props['UserProfileName']}"
    if kind == "AWS::SageMaker::Pipeline":
        return props["PipelineName"]
    if kind == "AWS::SSM::Parameter" and attr is None:
        return props.get("Name", logical_id)
    return f"arn:aws:unknown:{region_account}:{logical_id}" if attr else logical_id


class Platform:
    """The synthesized stacks of one app, resolved, with their roles as Principal Mapper nodes."""

    def __init__(self, templates: Mapping[str, dict[str, Any]]) -> None:
        self.templates = dict(templates)
        # Platform SSM parameters (the projects read tier 1 and 2 values through them).
        self._ssm: dict[str, Any] = {}
        for stack, template in self.templates.items():
            for resource in template["Resources"].values():
                if resource["Type"] == "AWS::SSM::Parameter":
                    props = resource["Properties"]
                    try:
                        self._ssm[props["Name"]] = self._evaluator(stack, template).resolve(props["Value"])
                    except (UnresolvedError, KeyError):
                        continue
        self.resolved = {name: self._resolve_template(name, t) for name, t in self.templates.items()}
        self._policies_by_role: dict[str, list[Policy]] = collections.defaultdict(list)
        self._roles: dict[str, dict[str, Any]] = {}
        self._managed: dict[str, dict[str, Any]] = {}
        for stack, resolved in self.resolved.items():
            for logical_id, resource in resolved["Resources"].items():
                props = resource.get("Properties", {})
                if resource["Type"] == "AWS::IAM::ManagedPolicy":
                    arn = _physical(stack, self.templates[stack], logical_id, None)
                    self._managed[arn] = props["PolicyDocument"]
                    for role in props.get("Roles", []):
                        self._policies_by_role[role].append(Policy(arn, logical_id, props["PolicyDocument"]))
                elif resource["Type"] == "AWS::IAM::Policy":
                    for role in props.get("Roles", []):
                        self._policies_by_role[role].append(Policy(f"inline:{logical_id}", logical_id, props["PolicyDocument"]))
                elif resource["Type"] == "AWS::IAM::Role":
                    self._roles[_physical(stack, self.templates[stack], logical_id, None)] = props

    def _evaluator(self, stack: str, template: dict[str, Any]) -> Evaluator:
        parameters: dict[str, Any] = {}
        for name, parameter in template.get("Parameters", {}).items():
            default = parameter.get("Default")
            parameters[name] = self._ssm.get(default, default) if parameter.get("Type", "").startswith("AWS::SSM") else default

        def value(logical_id: str, attr: str | None) -> Any:
            if logical_id not in template["Resources"]:
                raise KeyError(logical_id)
            return _physical(stack, template, logical_id, attr)

        return Evaluator(value, parameters, PSEUDO, template.get("Conditions"), template.get("Mappings"), self._import)

    def _import(self, export_name: str) -> Any:
        """``Fn::ImportValue``: the exporting stack's output, resolved in that stack."""
        for stack, template in self.templates.items():
            for output in template.get("Outputs", {}).values():
                if output.get("Export", {}).get("Name") == export_name:
                    return self._evaluator(stack, template).resolve(output["Value"])
        raise UnresolvedError(f"no stack exports {export_name}")

    def _resolve_template(self, stack: str, template: dict[str, Any]) -> dict[str, Any]:
        evaluator = self._evaluator(stack, template)
        resolved: dict[str, Any] = {"Resources": {}}
        for logical_id, resource in template["Resources"].items():
            try:
                props = evaluator.resolve(resource.get("Properties", {}))
            except UnresolvedError:
                props = {}
            resolved["Resources"][logical_id] = {"Type": resource["Type"], "Properties": props}
        return resolved

    def role(self, name: str) -> Node:
        """The role ``name`` as a Principal Mapper node: its inline, attached and managed policies and its boundary."""
        props = self._roles[name]
        policies = [Policy(f"inline:{name}:{p['PolicyName']}", p["PolicyName"], p["PolicyDocument"]) for p in props.get("Policies", [])]
        policies += [Policy(arn, arn, self._managed[arn]) for arn in props.get("ManagedPolicyArns", []) if arn in self._managed]
        policies += self._policies_by_role.get(name, [])
        boundary_arn = props.get("PermissionsBoundary")
        boundary = Policy(boundary_arn, boundary_arn, self._managed[boundary_arn]) if boundary_arn else None
        return Node(
            f"arn:aws:iam::{ACCOUNT}:role/{name}", f"AROA{abs(hash(name))}", policies, None,
            props.get("AssumeRolePolicyDocument"), None, 0, False, False, boundary, False, None,
        )

    def role_named_like(self, stack: str, description: str) -> str:
        """The name of the role in ``stack`` whose description contains ``description``."""
        found = [
            _physical(stack, self.templates[stack], lid, None)
            for lid, r in self.resolved[stack]["Resources"].items()
            if r["Type"] == "AWS::IAM::Role" and description in json.dumps(r["Properties"].get("Description", ""))
        ]
        assert len(found) == 1, (stack, description, found)
        return found[0]

    def state_machine_role(self, stack: str) -> str:
        machine = next(r for r in self.resolved[stack]["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine")
        return str(machine["Properties"]["RoleArn"]).rsplit("/", 1)[-1]

    def bucket(self, stack: str, fragment: str) -> str:
        return str(next(
            _physical(stack, self.templates[stack], lid, None)
            for lid, r in self.templates[stack]["Resources"].items() if r["Type"] == "AWS::S3::Bucket" and fragment in lid
        ))

    def key_arn(self, stack: str, fragment: str) -> str:
        return str(next(
            _physical(stack, self.templates[stack], lid, "Arn")
            for lid, r in self.templates[stack]["Resources"].items() if r["Type"] == "AWS::KMS::Key" and fragment in lid
        ))

    def resource_policy(self, stack: str, fragment: str, kind: str) -> dict[str, Any]:
        key = {"AWS::KMS::Key": "KeyPolicy", "AWS::S3::BucketPolicy": "PolicyDocument"}[kind]
        return next(
            r["Properties"][key] for lid, r in self.resolved[stack]["Resources"].items() if r["Type"] == kind and fragment in lid
        )

    def endpoint_policy(self, fragment: str) -> dict[str, Any]:
        return next(
            r["Properties"]["PolicyDocument"] for lid, r in self.resolved["Backbone"]["Resources"].items()
            if r["Type"] == "AWS::EC2::VPCEndpoint" and fragment in lid
        )


@dataclass(frozen=True)
class Check:
    """One row of the matrix: may ``who`` do ``action`` on ``resource`` (with ``context``)?"""

    row: str
    who: str
    action: str
    resource: str
    expected: bool
    context: Mapping[str, str] | None = None
    resource_policy: tuple[str, str, str] | None = None  # (stack, logical-id fragment, type)
    through_endpoint: str | None = None  # logical-id fragment of the VPC endpoint the call goes through


def evaluate(platform: Platform, principals: Mapping[str, str], check: Check) -> bool:
    node = platform.role(principals[check.who])
    policy = platform.resource_policy(*check.resource_policy) if check.resource_policy else None
    # An endpoint policy, like an SCP, must allow and not deny: Principal Mapper's SCP
    # evaluation applies exactly that intersection.
    endpoint = [[Policy("endpoint", "endpoint", platform.endpoint_policy(check.through_endpoint))]] if check.through_endpoint else None
    return bool(
        local_check_authorization_full(
            node, check.action, check.resource, dict(check.context or {}), policy, ACCOUNT if policy else None, endpoint, None,
        )
    )
