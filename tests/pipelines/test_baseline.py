"""The tabular template's data-quality baseline: the SDK's QualityCheckStep on the training split,
registered with every package (DriftCheckBaselines and ModelMetrics), and the shipped fixture
baseline in Model Monitor's documented format."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops_kit.local import demo_flow
from mlops_kit.pipelines import build_tabular_training_definition
from mlops_kit.pipelines import tabular_training as template
from mlops_kit.pipelines.steps import preprocess, synthetic
from tests.pipelines._support import TOKENS, tabular_arguments

MONITOR_IMAGE = "${Token[TOKEN.120]}"


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    text = build_tabular_training_definition(**tabular_arguments(monitor_image_uri=MONITOR_IMAGE))
    assert text == build_tabular_training_definition(**tabular_arguments(monitor_image_uri=MONITOR_IMAGE))  # repeatable
    document: dict[str, Any] = json.loads(text)
    return document


def _steps(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for step in document["Steps"]:
        found[step["Name"]] = step
        for branch in ("IfSteps", "ElseSteps"):
            for inner in step.get("Arguments", {}).get(branch, []):
                found[inner["Name"]] = inner
    return found


def test_baseline_is_a_quality_check_of_the_training_split_with_the_analyzer_image(definition: dict[str, Any]) -> None:
    step = _steps(definition)[template.STEP_BASELINE]
    assert (step["Type"], step["CheckType"], step["SkipCheck"], step["RegisterNewBaseline"]) == ("QualityCheck", "DATA_QUALITY", True, True)
    arguments = step["Arguments"]
    assert arguments["AppSpecification"]["ImageUri"] == MONITOR_IMAGE  # the stack's per-region mapping, not the SDK's pinned region
    assert arguments["ProcessingInputs"][0]["S3Input"]["S3Uri"] == {
        "Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"
    }
    assert json.loads(arguments["Environment"]["dataset_format"]) == {"csv": {"header": True, "output_columns_position": "START"}}
    assert arguments["NetworkConfig"]["VpcConfig"]["Subnets"] == [TOKENS["subnet"], "subnet-0abc"]
    assert arguments["NetworkConfig"]["EnableNetworkIsolation"] is True
    assert arguments["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == TOKENS["kms"]
    assert arguments["ProcessingOutputConfig"]["KmsKeyId"] == TOKENS["kms"]


def test_every_package_registers_the_baseline_of_its_own_run(definition: dict[str, Any]) -> None:
    steps = _steps(definition)
    output = steps[template.STEP_BASELINE]["Arguments"]["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    register = steps[template.STEP_REGISTER]
    assert template.STEP_BASELINE in register["DependsOn"]  # written before the package names them
    request = register["Arguments"]
    files = request["DriftCheckBaselines"]["ModelDataQuality"]
    assert request["ModelMetrics"]["ModelDataQuality"] == files
    for kind in ("Statistics", "Constraints"):
        uri = files[kind]["S3Uri"]
        assert files[kind]["ContentType"] == "application/json"
        # <run folder>/baseline/<kind>.json: the folder the analyzer writes, one per execution
        assert uri["Std:Join"]["Values"][:-1] == output["Std:Join"]["Values"]
        assert uri["Std:Join"]["Values"][-1] == f"{kind.lower()}.json"
        assert {"Get": "Execution.PipelineExecutionId"} in uri["Std:Join"]["Values"]


def test_without_an_analyzer_image_there_is_no_baseline_step() -> None:
    document = json.loads(build_tabular_training_definition(**tabular_arguments()))
    steps = _steps(document)
    assert template.STEP_BASELINE not in steps
    assert "DriftCheckBaselines" not in steps[template.STEP_REGISTER]["Arguments"]


def test_the_fixture_baseline_is_in_model_monitors_format_for_the_demo_data() -> None:
    statistics = json.loads(demo_flow.FIXTURE_BASELINE["Statistics"].read_text())
    constraints = json.loads(demo_flow.FIXTURE_BASELINE["Constraints"].read_text())
    frame = preprocess.clean(synthetic.generate(), "label")
    columns = list(preprocess.encode_target(frame, "label")[0].columns)
    assert [f["name"] for f in statistics["features"]] == columns == [f["name"] for f in constraints["features"]]
    assert statistics["dataset"]["item_count"] > 0
    for feature in statistics["features"]:
        assert feature["inferred_type"] in ("Integral", "Fractional", "String")
        stats = feature["numerical_statistics" if feature["inferred_type"] != "String" else "string_statistics"]
        assert set(stats["common"]) == {"num_present", "num_missing"}
    assert constraints["monitoring_config"]["emit_metrics"] == "Enabled"  # what publishes feature_baseline_drift_<feature>
    assert constraints["monitoring_config"]["distribution_constraints"]["perform_comparison"] == "Enabled"
    assert {"plan", "region"} == {f["name"] for f in constraints["features"] if "string_constraints" in f}
