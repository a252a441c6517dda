"""Compare two cloud assemblies offline: what a deploy of the new one would add, change or replace.

``npx cdk diff`` compares against the *deployed* stacks, so it needs an account. Before that, a
reviewer wants to know what their change does to the templates: ``mlops-kit diff`` compares the
current synth with the last good one (``cdk.out/``), offline.

- Resources are matched by logical ID. A resource whose logical ID disappears while one of the
  same type appears is reported as a rename: CloudFormation replaces it (a construct ID change).
- A changed property is flagged as a replacement when the resource type's provider schema lists it
  under ``createOnlyProperties``. The schemas are the ones cfn-lint ships (the CloudFormation
  registry's), read for the stack's region. Domain and user-profile ``Tags`` are added: AWS
  documents them as "Update requires: Replacement" although the registry schema does not list
  them (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-sagemaker-domain.html).
- SageMaker pipeline definitions and Step Functions definitions are JSON strings, often built
  with ``Fn::Join`` around deploy-time references: they are shown as a unified diff of the parsed,
  indented JSON, with each reference written as ``${Ref:Id}`` or ``${Id.Attr}``, so a one-line
  threshold change reads as one line. A definition shipped as an S3 asset is read from the assembly.
"""

from __future__ import annotations

import difflib
import fnmatch
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from mlops_kit.local.assembly import AssemblyError, CloudAssembly, StackArtifact, load_assembly

# Properties AWS documents as replacing the resource that the registry schema leaves out.
EXTRA_CREATE_ONLY: dict[str, tuple[str, ...]] = {
    "AWS::SageMaker::Domain": ("Tags",),
    "AWS::SageMaker::UserProfile": ("Tags",),
}
# (resource type, property path) of JSON documents held as strings.
EMBEDDED_JSON: dict[str, tuple[str, ...]] = {
    "AWS::SageMaker::Pipeline": ("PipelineDefinition", "PipelineDefinitionBody"),
    "AWS::StepFunctions::StateMachine": ("DefinitionString",),
}
DEFAULT_REGION = "us-east-1"


@dataclass
class ResourceChange:
    logical_id: str
    resource_type: str
    kind: str  # "added", "removed", "changed", "renamed"
    replaced: bool = False
    properties: list[str] = field(default_factory=list)
    detail: list[str] = field(default_factory=list)  # unified-diff lines


@dataclass
class StackDiff:
    name: str
    status: str  # "added", "removed", "changed", "unchanged"
    changes: list[ResourceChange] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for change in self.changes if change.kind == kind)

    def summary(self) -> str:
        if self.status in ("added", "removed"):
            return f"{self.name}: stack {self.status} ({len(self.changes)} resources)"
        if not self.changes:
            return f"{self.name}: no change"
        replaced = sum(1 for change in self.changes if change.replaced)
        text = (
            f"{self.name}: {self.count('added')} added, {self.count('changed')} changed, {self.count('removed')} removed"
        )
        if self.count("renamed"):
            text += f", {self.count('renamed')} renamed"
        return text + (f"; {replaced} REPLACED" if replaced else "")


def _create_only(resource_type: str, region: str) -> set[str]:
    return set(_schema_create_only(resource_type, region)) | set(EXTRA_CREATE_ONLY.get(resource_type, ()))


@cache
def _schema_create_only(resource_type: str, region: str) -> tuple[str, ...]:
    """Top-level property names the provider schema marks create-only (a change replaces the resource)."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    try:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region=region, resource_type=resource_type)
    except Exception:  # cfn-lint raises its own ResourceNotFoundError for custom and unknown types
        return ()
    paths = schema.schema.get("createOnlyProperties", [])
    return tuple(sorted({path.split("/")[2] for path in paths if path.startswith("/properties/")}))


def _reference(value: Any) -> str:
    """A deploy-time reference as a placeholder that is safe inside a JSON string (no quotes)."""
    return "${" + _intrinsic(value) + "}"


def _intrinsic(value: Any) -> str:
    if isinstance(value, dict) and len(value) == 1:
        (key, inner), = value.items()
        if key == "Ref":
            return f"Ref:{inner}"
        if key == "Fn::GetAtt":
            return ".".join(inner) if isinstance(inner, list) else str(inner)
        args = inner if isinstance(inner, list) else [inner]
        return f"{key}({', '.join(_intrinsic(arg) for arg in args)})"
    if isinstance(value, list):
        return "[" + ", ".join(_intrinsic(item) for item in value) + "]"
    if isinstance(value, str):
        return "'" + value.replace('"', "'") + "'"
    return str(value)


def flatten(value: Any) -> Any:
    """A template value with ``Fn::Join`` / ``Fn::Sub`` strings joined, references as placeholders."""
    if isinstance(value, dict) and len(value) == 1:
        (key, inner), = value.items()
        if key == "Fn::Join" and isinstance(inner, list) and len(inner) == 2 and isinstance(inner[1], list):
            separator, parts = inner
            joined = (part if isinstance(part, str) else _reference(part) if "Fn::Join" not in part else flatten(part) for part in parts)
            return separator.join(str(part) for part in joined)
        if key == "Fn::Sub" and isinstance(inner, str):
            return inner
        if key in ("Ref", "Fn::GetAtt"):
            return _reference(value)
    if isinstance(value, dict):
        return {key: flatten(item) for key, item in value.items()}
    if isinstance(value, list):
        return [flatten(item) for item in value]
    return value


def _pretty(value: Any) -> list[str]:
    value = flatten(value)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value.splitlines() or [value]
    return json.dumps(value, indent=2, sort_keys=True).splitlines()


def _unified(label: str, old: Any, new: Any) -> list[str]:
    return list(difflib.unified_diff(_pretty(old), _pretty(new), f"last good: {label}", f"current: {label}", n=2, lineterm=""))


def _embedded(resource_type: str, props: Mapping[str, Any], assembly: CloudAssembly) -> Any:
    path = EMBEDDED_JSON.get(resource_type)
    if path is None:
        return None
    value: Any = props
    for part in path:
        value = value.get(part) if isinstance(value, Mapping) else None
    if value is None and resource_type == "AWS::SageMaker::Pipeline":
        location = (props.get("PipelineDefinition") or {}).get("PipelineDefinitionS3Location") or {}
        key = location.get("Key")
        for stack in assembly.stacks:
            for asset in stack.file_assets:
                if isinstance(key, str) and asset.key == key and asset.source.is_file():
                    return asset.source.read_text(encoding="utf-8")
    return value


def embedded_document(resource_type: str, props: Mapping[str, Any], assembly: CloudAssembly) -> Any:
    """A pipeline or state machine definition as parsed JSON (references as placeholders), else ``None``."""
    value = flatten(_embedded(resource_type, props, assembly))
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _compare_resource(
    logical_id: str, old: Mapping[str, Any], new: Mapping[str, Any], region: str, assemblies: tuple[CloudAssembly, CloudAssembly]
) -> ResourceChange | None:
    resource_type = str(new.get("Type"))
    if old.get("Type") != new.get("Type"):
        return ResourceChange(logical_id, resource_type, "changed", replaced=True, properties=["Type"])
    old_props, new_props = old.get("Properties") or {}, new.get("Properties") or {}
    changed = sorted(key for key in set(old_props) | set(new_props) if old_props.get(key) != new_props.get(key))
    # A pipeline moved into an S3 asset keeps its properties; its definition may still change.
    old_doc = _embedded(resource_type, old_props, assemblies[0])
    new_doc = _embedded(resource_type, new_props, assemblies[1])
    document_changed = old_doc is not None and new_doc is not None and _pretty(old_doc) != _pretty(new_doc)
    other = {key: new.get(key) != old.get(key) for key in ("DeletionPolicy", "UpdateReplacePolicy", "DependsOn", "Condition")}
    if not changed and not document_changed and not any(other.values()):
        return None
    change = ResourceChange(logical_id, resource_type, "changed", properties=changed + [k for k, v in other.items() if v])
    change.replaced = bool(set(changed) & _create_only(resource_type, region))
    embedded_top = EMBEDDED_JSON.get(resource_type, ("",))[0]
    if document_changed:
        change.detail += _unified(f"{logical_id} definition", old_doc, new_doc)
    for key in changed:
        if key == embedded_top and document_changed:
            continue
        change.detail += _unified(f"{logical_id}.{key}", old_props.get(key), new_props.get(key))
    return change


def _region_of(stack: StackArtifact) -> str:
    region = stack.environment.rsplit("/", 1)[-1] if stack.environment else ""
    return region if region and not region.startswith("unknown") else DEFAULT_REGION


def diff_stack(old: StackArtifact | None, new: StackArtifact | None, assemblies: tuple[CloudAssembly, CloudAssembly]) -> StackDiff:
    name = (new or old).stack_name  # type: ignore[union-attr]  # one of the two is always given
    old_resources = (old.template().get("Resources") or {}) if old else {}
    new_resources = (new.template().get("Resources") or {}) if new else {}
    if old is None or new is None:
        status = "added" if old is None else "removed"
        return StackDiff(
            name,
            status,
            [ResourceChange(lid, str(r.get("Type")), status) for lid, r in sorted((new_resources or old_resources).items())],
        )
    region = _region_of(new)
    changes: list[ResourceChange] = []
    removed = {lid: r for lid, r in old_resources.items() if lid not in new_resources}
    added = {lid: r for lid, r in new_resources.items() if lid not in old_resources}
    for logical_id in sorted(set(old_resources) & set(new_resources)):
        change = _compare_resource(logical_id, old_resources[logical_id], new_resources[logical_id], region, assemblies)
        if change is not None:
            changes.append(change)
    for logical_id, resource in sorted(added.items()):
        twin = next((lid for lid, r in sorted(removed.items()) if r.get("Type") == resource.get("Type")), None)
        if twin is not None and (removed[twin].get("Properties") or {}) == (resource.get("Properties") or {}):
            del removed[twin]
            changes.append(
                ResourceChange(
                    logical_id,
                    str(resource.get("Type")),
                    "renamed",
                    replaced=True,
                    detail=[f"logical ID {twin} -> {logical_id}: CloudFormation creates the new resource and deletes the old one"],
                )
            )
            continue
        changes.append(ResourceChange(logical_id, str(resource.get("Type")), "added"))
    changes += [ResourceChange(lid, str(r.get("Type")), "removed") for lid, r in sorted(removed.items())]
    return StackDiff(name, "changed" if changes else "unchanged", changes)


def diff_assemblies(old_dir: Path, new_dir: Path, stacks: Iterable[str] | None = None) -> list[StackDiff]:
    """Every stack of either assembly (or those matching the ``stacks`` globs), old against new."""
    old, new = load_assembly(old_dir), load_assembly(new_dir)
    wanted = list(stacks or [])
    by_name_old = {s.stack_name: s for s in old.stacks}
    by_name_new = {s.stack_name: s for s in new.stacks}
    names = [*by_name_new, *(name for name in by_name_old if name not in by_name_new)]
    if wanted:
        names = [name for name in names if any(fnmatch.fnmatchcase(name, pattern) for pattern in wanted)]
        if not names:
            raise AssemblyError(f"no stack matches {', '.join(wanted)}; the assemblies have: {', '.join(by_name_new)}")
    return [diff_stack(by_name_old.get(name), by_name_new.get(name), (old, new)) for name in names]


def render(diffs: list[StackDiff], *, verbose: bool = True) -> str:
    """One summary line per stack; with ``verbose``, each change and its readable diff below it."""
    lines: list[str] = []
    for stack in diffs:
        lines.append(stack.summary())
        if not verbose or stack.status in ("added", "removed"):
            continue
        for change in stack.changes:
            mark = {"added": "+", "removed": "-", "changed": "~", "renamed": "~"}[change.kind]
            flag = "  [replacement]" if change.replaced else ""
            what = f" ({', '.join(change.properties)})" if change.properties else ""
            lines.append(f"  {mark} {change.resource_type} {change.logical_id}{what}{flag}")
            lines.extend(f"      {line}" for line in change.detail)
    return "\n".join(lines)
