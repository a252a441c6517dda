"""mlops-kit diff: two cloud assemblies compared offline, definitions as readable JSON, replacements flagged."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlops_kit.diff import diff_assemblies, flatten, render
from mlops_kit.errors import KitError

ROLE_ARN = {"Fn::GetAtt": ["Role1ABCD", "Arn"]}


def pipeline_definition(threshold: float) -> dict[str, Any]:
    """A pipeline definition the way CDK writes it: a JSON string joined around deploy-time references."""
    text = json.dumps(
        {
            "Version": "2020-12-01",
            "Steps": [
                {"Name": "Train", "Type": "Training", "Arguments": {"RoleArn": "@ROLE@"}},
                {
                    "Name": "CheckQuality",
                    "Type": "Condition",
                    "Arguments": {"Conditions": [{"Type": "GreaterThanOrEqualTo", "RightValue": threshold}]},
                },
            ],
        }
    )
    before, after = text.split("@ROLE@")
    return {"Fn::Join": ["", [before, ROLE_ARN, after]]}


def template(threshold: float = 0.7, **overrides: Any) -> dict[str, Any]:
    resources: dict[str, Any] = {
        "PipelineC660917D": {
            "Type": "AWS::SageMaker::Pipeline",
            "Properties": {
                "PipelineName": "mlops-churn",
                "RoleArn": ROLE_ARN,
                "PipelineDefinition": {"PipelineDefinitionBody": pipeline_definition(threshold)},
            },
        },
        "Data5F3E": {
            "Type": "AWS::S3::Bucket",
            "Properties": {"BucketName": "churn-data", "VersioningConfiguration": {"Status": "Enabled"}},
            "DeletionPolicy": "Retain",
        },
        "Domain1234": {"Type": "AWS::SageMaker::Domain", "Properties": {"DomainName": "mlops", "Tags": [{"Key": "a", "Value": "1"}]}},
    }
    for logical_id, value in overrides.items():
        if value is None:
            resources.pop(logical_id)
        else:
            resources[logical_id] = value
    return {"Resources": resources}


def assembly(folder: Path, stacks: dict[str, dict[str, Any]]) -> Path:
    folder.mkdir(parents=True)
    artifacts = {}
    for name, body in stacks.items():
        (folder / f"{name}.template.json").write_text(json.dumps(body))
        artifacts[name] = {
            "type": "aws:cloudformation:stack",
            "environment": "aws://unknown-account/unknown-region",
            "properties": {"templateFile": f"{name}.template.json"},
        }
    (folder / "manifest.json").write_text(json.dumps({"version": "43.0.0", "artifacts": artifacts}))
    return folder


def test_a_threshold_change_reads_as_one_line_of_the_pipeline_definition(tmp_path: Path) -> None:
    old = assembly(tmp_path / "old", {"Project-churn": template(0.7)})
    new = assembly(tmp_path / "new", {"Project-churn": template(0.75)})
    [stack] = diff_assemblies(old, new)
    assert stack.summary() == "Project-churn: 0 added, 1 changed, 0 removed"
    [change] = stack.changes
    assert (change.logical_id, change.properties, change.replaced) == ("PipelineC660917D", ["PipelineDefinition"], False)
    removed = [line for line in change.detail if line.startswith("-") and not line.startswith("---")]
    added = [line for line in change.detail if line.startswith("+") and not line.startswith("+++")]
    assert [line[0] + line[1:].strip() for line in removed] == ['-"RightValue": 0.7,']
    assert [line[0] + line[1:].strip() for line in added] == ['+"RightValue": 0.75,']
    # the joined definition parses as JSON, with its references written as readable placeholders
    assert json.loads(flatten(pipeline_definition(0.7)))["Steps"][0]["Arguments"]["RoleArn"] == "${Role1ABCD.Arn}"


def test_create_only_property_change_is_flagged_as_replacement(tmp_path: Path) -> None:
    renamed_bucket = {
        "Type": "AWS::S3::Bucket",
        "Properties": {"BucketName": "churn-data-v2", "VersioningConfiguration": {"Status": "Enabled"}},
        "DeletionPolicy": "Retain",
    }
    suspended = copy.deepcopy(template()["Resources"]["Data5F3E"])
    suspended["Properties"]["VersioningConfiguration"]["Status"] = "Suspended"
    old = assembly(tmp_path / "old", {"Stack": template()})
    replaced = assembly(tmp_path / "replaced", {"Stack": template(Data5F3E=renamed_bucket)})
    updated = assembly(tmp_path / "updated", {"Stack": template(Data5F3E=suspended)})
    [change] = diff_assemblies(old, replaced)[0].changes
    assert (change.properties, change.replaced) == (["BucketName"], True)
    assert diff_assemblies(old, replaced)[0].summary().endswith("; 1 REPLACED")
    [change] = diff_assemblies(old, updated)[0].changes
    assert (change.properties, change.replaced) == (["VersioningConfiguration"], False)


def test_domain_tags_replace_the_domain(tmp_path: Path) -> None:
    # The registry schema does not list them; AWS documents the replacement (DESIGN trap).
    retagged = {"Type": "AWS::SageMaker::Domain", "Properties": {"DomainName": "mlops", "Tags": [{"Key": "a", "Value": "2"}]}}
    old = assembly(tmp_path / "old", {"Stack": template()})
    new = assembly(tmp_path / "new", {"Stack": template(Domain1234=retagged)})
    [change] = diff_assemblies(old, new)[0].changes
    assert (change.properties, change.replaced) == (["Tags"], True)


def test_a_changed_logical_id_is_a_rename_that_replaces(tmp_path: Path) -> None:
    body = template()
    bucket = body["Resources"].pop("Data5F3E")
    old = assembly(tmp_path / "old", {"Stack": template()})
    new = assembly(tmp_path / "new", {"Stack": {"Resources": {**body["Resources"], "DataRenamed99": bucket}}})
    [stack] = diff_assemblies(old, new)
    [change] = stack.changes
    assert (change.kind, change.logical_id, change.replaced) == ("renamed", "DataRenamed99", True)
    assert "Data5F3E -> DataRenamed99" in change.detail[0]
    assert stack.summary() == "Stack: 0 added, 0 changed, 0 removed, 1 renamed; 1 REPLACED"


def test_added_removed_and_unchanged_stacks(tmp_path: Path) -> None:
    old = assembly(tmp_path / "old", {"Backbone": template(), "Project-old": template()})
    new = assembly(tmp_path / "new", {"Backbone": template(), "Project-new": template()})
    summaries = [stack.summary() for stack in diff_assemblies(old, new)]
    assert summaries == [
        "Backbone: no change",
        "Project-new: stack added (3 resources)",
        "Project-old: stack removed (3 resources)",
    ]
    only = diff_assemblies(old, new, ["Project-*"])
    assert [stack.name for stack in only] == ["Project-new", "Project-old"]
    assert render(only, verbose=False).splitlines() == summaries[1:]


def test_fails_if_no_stack_matches(tmp_path: Path) -> None:
    old = assembly(tmp_path / "old", {"Backbone": template()})
    with pytest.raises(KitError, match="no stack matches Nope; the assemblies have: Backbone"):
        diff_assemblies(old, old, ["Nope"])


def test_cli_compares_two_assemblies_offline(tmp_path: Path) -> None:
    old = assembly(tmp_path / "old", {"Project-churn": template(0.7)})
    new = assembly(tmp_path / "new", {"Project-churn": template(0.8)})
    kit = [sys.executable, "-m", "mlops_kit", "diff", "--assembly", str(old), "--new", str(new)]
    result = subprocess.run([*kit, "--fail"], capture_output=True, text=True, cwd=tmp_path, check=False, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 1, result
    assert result.stdout.splitlines()[0] == "Project-churn: 0 added, 1 changed, 0 removed"
    assert any(line.strip().startswith("+") and '"RightValue": 0.8,' in line for line in result.stdout.splitlines())
    same = subprocess.run([*kit[:-1], str(old), "--brief"], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert (same.returncode, same.stdout) == (0, "Project-churn: no change\n")
    missing = subprocess.run([*kit[:4], "--assembly", str(tmp_path / "nope")], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert missing.returncode == 2
    assert missing.stderr == f"error: mlops-kit diff: --assembly: {tmp_path / 'nope'}/manifest.json not found; run `mlops-kit synth` first\n"
