"""Fast tests of the pieces that need no server: intrinsics, planning, assembly reading, the table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_kit.local.assembly import AssemblyError, load_assembly, package_asset
from mlops_kit.local.intrinsics import Evaluator, UnresolvedError, references, substitute
from mlops_kit.local.plan import API, CUSTOM, NATIVE, PREDICTED, UNSUPPORTED, plan_template
from mlops_kit.local.report import (
    CLOUDFORMATION,
    SERVICE_API,
    UNCHECKED,
    ResourceResult,
    StackReport,
    render_table,
)


def _evaluator(**values: object) -> Evaluator:
    def resource_value(logical_id: str, attr: str | None) -> object:
        return values[f"{logical_id}.{attr}" if attr else logical_id]

    return Evaluator(
        resource_value,
        parameters={"Env": "dev", "Subnets": ["subnet-1", "subnet-2"]},
        pseudo={"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"},
        conditions={"IsDev": {"Fn::Equals": [{"Ref": "Env"}, "dev"]}},
        mappings={"Sizes": {"dev": {"Instance": "ml.t3.medium"}}},
        import_value=lambda name: {"Shared:Bucket": "shared-bucket"}[name],
    )


def test_evaluator_resolves_the_functions_cdk_writes() -> None:
    ev = _evaluator(Role=("r"), **{"Role.Arn": "arn:aws:iam::123456789012:role/r"})
    value = {
        "Join": {"Fn::Join": ["-", [{"Ref": "Env"}, {"Fn::Select": [1, {"Ref": "Subnets"}]}]]},
        "Sub": {"Fn::Sub": ["arn:aws:s3:::${Bucket}/${AWS::Region}/${Role.Arn}", {"Bucket": "b"}]},
        "SubVars": {"Fn::Sub": ["${X}-${!Literal}", {"X": {"Ref": "Env"}}]},
        "Split": {"Fn::Split": [",", "a,b"]},
        "Import": {"Fn::ImportValue": "Shared:Bucket"},
        "Map": {"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "Instance"]},
        "If": {"Fn::If": ["IsDev", "small", "large"]},
        "Gone": {"Ref": "AWS::NoValue"},
        "Json": {"Fn::ToJsonString": {"a": {"Ref": "Env"}}},
    }
    resolved = ev.resolve(value)
    assert resolved == {
        "Join": "dev-subnet-2",
        "Sub": "arn:aws:s3:::b/us-east-1/arn:aws:iam::123456789012:role/r",
        "SubVars": "dev-${Literal}",
        "Split": ["a", "b"],
        "Import": "shared-bucket",
        "Map": "ml.t3.medium",
        "If": "small",
        "Json": '{"a":"dev"}',
    }


def test_fails_if_a_reference_is_unknown() -> None:
    with pytest.raises(UnresolvedError, match="Missing"):
        _evaluator().resolve({"Ref": "Missing"})


def test_references_and_substitute_cover_sub_strings() -> None:
    value = {
        "A": {"Fn::Sub": "${Group.Arn}/x/${Param}"},
        "B": {"Ref": "Group"},
        "C": {"Fn::GetAtt": ["Role", "Arn"]},
    }
    assert references(value) == {"Group", "Param", "Role"}
    replaced = substitute(
        value, lambda logical, _attr: logical == "Group", lambda name, attr: f"<{name}.{attr}>"
    )
    assert replaced == {
        "A": {"Fn::Sub": "<Group.Arn>/x/${Param}"},
        "B": "<Group.None>",
        "C": {"Fn::GetAtt": ["Role", "Arn"]},
    }


def test_plan_puts_resources_that_need_api_values_in_a_later_wave() -> None:
    template = {
        "Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
            "Domain": {"Type": "AWS::SageMaker::Domain", "Properties": {"VpcId": {"Ref": "Vpc"}}},
            "Profile": {"Type": "AWS::SageMaker::UserProfile", "Properties": {"DomainId": {"Ref": "Domain"}}},
            "DomainIdParam": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Value": {"Ref": "Domain"}, "Type": "String"},
            },
            "Hook": {"Type": "Custom::Thing", "Properties": {"ServiceToken": "x"}},
            "Meta": {"Type": "AWS::CDK::Metadata", "Properties": {}},
        },
        "Outputs": {
            "DomainId": {"Value": {"Ref": "Domain"}, "Export": {"Name": "D"}},
            "VpcId": {"Value": {"Ref": "Vpc"}},
        },
    }
    plan = plan_template(template)
    kinds = {k: r.kind for k, r in plan.resources.items()}
    assert kinds == {
        "Vpc": NATIVE,
        "Domain": API,
        "Profile": PREDICTED,
        "DomainIdParam": NATIVE,
        "Hook": CUSTOM,
        "Meta": UNSUPPORTED,
    }
    waves = {k: r.wave for k, r in plan.resources.items()}
    assert (
        waves["Vpc"] == 0 and waves["Domain"] == 0 and waves["Profile"] == 0 and waves["DomainIdParam"] == 1
    )
    assert plan.output_waves == {"DomainId": 1, "VpcId": 0}
    assert plan.waves == 2
    assert [r.logical_id for r in plan.api_phase_order(0)] == ["Domain", "Profile"]


def _write_manifest(root: Path, artifacts: dict[str, object]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "manifest.json").write_text(json.dumps({"version": "55.0.0", "artifacts": artifacts}))


def _stack(deps: list[str]) -> dict[str, object]:
    return {
        "type": "aws:cloudformation:stack",
        "properties": {"templateFile": "t.json"},
        "dependencies": deps,
    }


def test_assembly_orders_stacks_by_dependency(tmp_path: Path) -> None:
    _write_manifest(
        tmp_path, {"Project-a": _stack(["Shared"]), "Shared": _stack(["Backbone"]), "Backbone": _stack([])}
    )
    assert [s.stack_name for s in load_assembly(tmp_path).stacks] == ["Backbone", "Shared", "Project-a"]
    assert [s.stack_name for s in load_assembly(tmp_path).select(["Project-*"])] == ["Project-a"]


def test_fails_if_stacks_depend_on_each_other(tmp_path: Path) -> None:
    _write_manifest(tmp_path, {"A": _stack(["B"]), "B": _stack(["A"])})
    with pytest.raises(AssemblyError, match="cycle"):
        load_assembly(tmp_path)


def test_fails_if_the_assembly_is_missing(tmp_path: Path) -> None:
    with pytest.raises(AssemblyError, match="cdk synth"):
        load_assembly(tmp_path / "nowhere")


def test_zipped_assets_are_deterministic(tmp_path: Path) -> None:
    from mlops_kit.local.assembly import FileAsset

    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "index.py").write_text("x = 1\n")
    asset = FileAsset("id", folder, "zip", "bucket", "key.zip")
    assert package_asset(asset) == package_asset(asset)


def test_table_has_a_row_per_type_and_the_three_columns() -> None:
    report = StackReport("Demo", waves=2)
    report.add(ResourceResult("Vpc", "AWS::EC2::VPC", CLOUDFORMATION))
    report.add(ResourceResult("Group", "AWS::SageMaker::ModelPackageGroup", SERVICE_API))
    report.add(ResourceResult("Hook", "Custom::Thing", UNCHECKED, reason="custom resource"))
    text = render_table([report])
    assert "by CloudFormation" in text and "via service API" in text and "unchecked" in text
    assert "AWS::EC2::VPC" in text and "unchecked: Hook (Custom::Thing): custom resource" in text
    assert report.ok


def test_moto_shape_fixes_rewrite_what_moto_misreads() -> None:
    from mlops_kit.local.deploy import moto_shape_fixes

    key = {"KeyPolicy": {"Statement": []}, "Tags": [{"Key": "team", "Value": "ml"}]}
    assert len(moto_shape_fixes("AWS::KMS::Key", key)) == 2
    assert key == {
        "KeyPolicy": {"Fn::ToJsonString": {"Statement": []}},
        "Tags": [{"TagKey": "team", "TagValue": "ml"}],
    }
    parameter = {"Tags": {"team": "ml"}}
    moto_shape_fixes("AWS::SSM::Parameter", parameter)
    assert parameter == {"Tags": [{"Key": "team", "Value": "ml"}]}
