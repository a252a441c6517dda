"""Units of the pipeline expression evaluator and the runner's graph and step rules, on hand-written definitions."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mlops_kit.local.pipeline_expr import (
    ExpressionError,
    Scope,
    all_conditions,
    condition,
    evaluate,
    parameter_values,
    path_segments,
    step_references,
)
from mlops_kit.local.pipeline_runner import (
    PipelineRunError,
    _graph,
    _order,
    run_pipeline,
    verdict,
)

REPORT = {
    "binary_classification_metrics": {"accuracy": {"value": 0.82}, "f1": {"value": 0.5}},
    "rows": [3, 4],
}


def _scope() -> Scope:
    return Scope(
        parameters={"InputDataUri": "s3://b/raw/", "Threshold": 0.8},
        execution={"PipelineExecutionId": "abc123"},
        steps={
            "Prep": {
                "ProcessingOutputConfig": {
                    "Outputs": [
                        {"OutputName": "train", "S3Output": {"S3Uri": "s3://b/abc123/train"}},
                        {"OutputName": "test", "S3Output": {"S3Uri": "s3://b/abc123/test"}},
                    ]
                }
            },
            "Train": {"ModelArtifacts": {"S3ModelArtifacts": "s3://b/m/model.tar.gz"}},
        },
        property_files={("Eval", "Report"): REPORT},
    )


def _json_get(path: str) -> dict[str, Any]:
    return {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Eval.PropertyFiles.Report"}, "Path": path}}


def test_path_segments_read_the_sdk_property_syntax() -> None:
    assert path_segments("ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri") == [
        "ProcessingOutputConfig",
        "Outputs",
        "train",
        "S3Output",
        "S3Uri",
    ]
    assert path_segments('a.b["c d"][2]') == ["a", "b", "c d", 2]
    with pytest.raises(ExpressionError, match="cannot read it from position"):
        path_segments("a.b[oops]")


def test_get_join_and_json_get_evaluate_against_the_scope() -> None:
    value = {
        "Uri": {"Get": "Parameters.InputDataUri"},
        "Out": {
            "Std:Join": {"On": "/", "Values": ["s3://b", {"Get": "Execution.PipelineExecutionId"}, "eval"]}
        },
        "Train": {"Get": "Steps.Prep.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"},
        "Model": [{"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}],
        "Metric": _json_get("binary_classification_metrics.accuracy.value"),
        "Row": _json_get("rows[1]"),
        "Plain": {"Keep": 1, "Flag": True},
    }
    assert evaluate(value, _scope()) == {
        "Uri": "s3://b/raw/",
        "Out": "s3://b/abc123/eval",
        "Train": "s3://b/abc123/train",
        "Model": ["s3://b/m/model.tar.gz"],
        "Metric": 0.82,
        "Row": 4,
        "Plain": {"Keep": 1, "Flag": True},
    }
    joined = {
        "Std:Join": {
            "On": " ",
            "Values": ["metric", _json_get("binary_classification_metrics.f1.value"), True],
        }
    }
    assert evaluate(joined, _scope()) == "metric 0.5 true"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ({"Get": "Parameters.Missing"}, "no parameter 'Missing'"),
        ({"Get": "Steps.Later.ModelName"}, "step 'Later' has not run"),
        ({"Get": "Steps.Prep.ProcessingOutputConfig.Outputs['nope'].S3Output.S3Uri"}, "no 'nope'"),
        ({"Get": "Steps.Eval.PropertyFiles.Report"}, "only through Std:JsonGet"),
        (_json_get("binary_classification_metrics.auc.value"), "no 'auc'"),
        (
            {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Other.PropertyFiles.X"}, "Path": "a"}},
            "no property file",
        ),
        ({"Std:Concat": []}, "does not know this function"),
    ],
)
def test_fails_if_an_expression_cannot_be_evaluated(expression: dict[str, Any], message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        evaluate(expression, _scope())


def test_conditions_compare_the_report_with_the_threshold() -> None:
    accuracy = _json_get("binary_classification_metrics.accuracy.value")
    scope = _scope()
    assert condition({"Type": "GreaterThanOrEqualTo", "LeftValue": accuracy, "RightValue": 0.8}, scope) == (
        True,
        "accuracy 0.82 >= 0.8",
    )
    assert condition({"Type": "GreaterThan", "LeftValue": accuracy, "RightValue": 0.82}, scope)[0] is False
    assert condition({"Type": "LessThan", "LeftValue": accuracy, "RightValue": "0.9"}, scope)[0] is True
    assert condition(
        {"Type": "Equals", "LeftValue": {"Get": "Parameters.Threshold"}, "RightValue": 0.8}, scope
    )[0]
    assert condition({"Type": "In", "QueryValue": "b", "Values": ["a", "b"]}, scope)[0] is True
    assert (
        condition({"Type": "Not", "Condition": {"Type": "Equals", "LeftValue": 1, "RightValue": 1}}, scope)[0]
        is False
    )
    either = {
        "Type": "Or",
        "Conditions": [
            {"Type": "Equals", "LeftValue": 1, "RightValue": 2},
            {"Type": "LessThanOrEqualTo", "LeftValue": 1, "RightValue": 2},
        ],
    }
    assert condition(either, scope)[0] is True
    # A step's conditions are ANDed.
    outcome, said = all_conditions(
        [either, {"Type": "GreaterThan", "LeftValue": accuracy, "RightValue": 0.9}], scope
    )
    assert outcome is False and said[1] == "accuracy 0.82 > 0.9"
    with pytest.raises(ExpressionError, match="condition type 'Between'"):
        condition({"Type": "Between"}, scope)
    with pytest.raises(ExpressionError, match="cannot compare"):
        condition({"Type": "GreaterThan", "LeftValue": "abc", "RightValue": 1}, scope)


DEFINITION: dict[str, Any] = {
    "Parameters": [
        {"Name": "Uri", "Type": "String", "DefaultValue": "s3://b/x"},
        {"Name": "Count", "Type": "Integer", "DefaultValue": 1},
        {"Name": "Package", "Type": "String"},
    ],
    "Steps": [
        {
            "Name": "Eval",
            "Type": "Processing",
            "Arguments": {"In": {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}},
        },
        {"Name": "Train", "Type": "Training", "Arguments": {"In": {"Get": "Steps.Prep.ProcessingJobName"}}},
        {"Name": "Prep", "Type": "Processing", "Arguments": {}},
        {
            "Name": "Gate",
            "Type": "Condition",
            "Arguments": {
                "Conditions": [{"Type": "Equals", "LeftValue": _json_get("a"), "RightValue": 1}],
                "IfSteps": [{"Name": "Register", "Type": "RegisterModel", "Arguments": {}}],
                "ElseSteps": [{"Name": "Stop", "Type": "Fail", "Arguments": {}}],
            },
        },
        {"Name": "Notify", "Type": "Lambda", "Arguments": {}, "DependsOn": ["Prep"]},
    ],
}


def test_steps_run_in_dependency_order_with_branches_after_their_condition() -> None:
    nodes = _graph(DEFINITION)
    assert nodes["Gate"].needs == {"Eval"}
    assert nodes["Register"].needs == {"Gate"} and nodes["Register"].branch == ("Gate", True)
    assert nodes["Stop"].branch == ("Gate", False)
    assert nodes["Notify"].needs == {"Prep"}
    assert _order(nodes) == ["Prep", "Train", "Eval", "Gate", "Register", "Stop", "Notify"]


def test_fails_if_steps_form_a_cycle_or_name_an_unknown_step() -> None:
    cycle = {
        "Steps": [
            {"Name": "A", "Type": "Processing", "Arguments": {}, "DependsOn": ["B"]},
            {"Name": "B", "Type": "Processing", "Arguments": {}, "DependsOn": ["A"]},
        ]
    }
    with pytest.raises(PipelineRunError, match="form a cycle"):
        _order(_graph(cycle))
    with pytest.raises(PipelineRunError, match="depends on unknown step Z"):
        _graph({"Steps": [{"Name": "A", "Type": "Fail", "Arguments": {}, "DependsOn": ["Z"]}]})


def test_parameters_take_defaults_typed_overrides_and_refuse_the_rest() -> None:
    assert parameter_values("p", DEFINITION, {"Package": "arn:x", "Count": "3"}) == {
        "Uri": "s3://b/x",
        "Count": 3,
        "Package": "arn:x",
    }
    with pytest.raises(PipelineRunError, match=r"-p Count=many: pipeline p expects a Integer"):
        parameter_values("p", DEFINITION, {"Package": "a", "Count": "many"})
    with pytest.raises(PipelineRunError, match=r"-p Package=VALUE: pipeline p has no default"):
        parameter_values("p", DEFINITION, {})
    with pytest.raises(
        PipelineRunError, match=r"-p Other: pipeline p has no such parameter; it takes Uri, Count, Package"
    ):
        parameter_values("p", DEFINITION, {"Other": "1"})


def test_data_dependencies_come_from_gets_on_steps_only() -> None:
    value = [
        {"Get": "Steps.A.X"},
        {"Get": "Parameters.P"},
        {"Std:Join": {"On": "", "Values": [{"Get": "Steps.B.Y['k']"}]}},
        _json_get("a"),
    ]
    assert step_references(value) == {"A", "B", "Eval"}


def _run_definition(definition: dict[str, Any], tmp_path: Any, **parameters: str) -> Any:
    class Target:
        endpoint = "in-process moto"

        def client(self, service: str) -> Any:
            return boto3.client(service, region_name="us-east-1")

    with mock_aws():
        Target().client("sagemaker").create_pipeline(
            PipelineName="hand-written",
            PipelineDefinition=json.dumps(definition),
            RoleArn="arn:aws:iam::123456789012:role/r",
        )
        return run_pipeline(Target(), "hand-written", parameters=parameters, workdir=tmp_path)


def test_a_step_that_cannot_run_is_not_run_and_so_are_its_dependants(tmp_path: Any) -> None:
    definition = {
        "Version": "2020-12-01",
        "Parameters": [],
        "Steps": [
            {"Name": "Check", "Type": "QualityCheck", "Arguments": {}},
            {
                "Name": "Gate",
                "Type": "Condition",
                # It reads the check's result: it needs the check, not only its order.
                "Arguments": {
                    "Conditions": [{"Type": "Equals", "LeftValue": {"Get": "Steps.Check.CalculatedBaselineStatistics"}, "RightValue": 1}],
                    "IfSteps": [{"Name": "Stop", "Type": "Fail", "Arguments": {"ErrorMessage": "no"}}],
                    "ElseSteps": [],
                },
            },
        ],
    }
    run = _run_definition(definition, tmp_path)
    assert [(s.name, s.status) for s in run.steps] == [
        ("Check", "NotRun"),
        ("Gate", "NotRun"),
        ("Stop", "NotRun"),
    ]
    assert run.step("Check").detail == "QualityCheck steps do not run in the embedded AWS"
    assert run.step("Gate").detail == "needs Check, which did not run"
    assert run.status == "Incomplete" and not run.ok
    assert verdict(run).endswith("not run: Check, Gate, Stop")
    assert not run.ok_but_checks


def test_a_step_ordered_after_a_check_it_does_not_read_still_runs(tmp_path: Any) -> None:
    """DependsOn alone is ordering (the tabular template's RegisterModel after its baseline)."""
    definition = {
        "Version": "2020-12-01",
        "Parameters": [],
        "Steps": [
            {"Name": "Check", "Type": "QualityCheck", "Arguments": {}},
            {
                "Name": "Gate",
                "Type": "Condition",
                "DependsOn": ["Check"],
                "Arguments": {
                    "Conditions": [{"Type": "Equals", "LeftValue": 1, "RightValue": 1}],
                    "IfSteps": [],
                    "ElseSteps": [{"Name": "Stop", "Type": "Fail", "Arguments": {"ErrorMessage": "no"}}],
                },
            },
        ],
    }
    run = _run_definition(definition, tmp_path)
    assert [(s.name, s.status) for s in run.steps] == [("Check", "NotRun"), ("Gate", "Succeeded"), ("Stop", "Skipped")]
    assert run.status == "Incomplete" and not run.ok and run.ok_but_checks and run.checks_not_run == ["Check"]


def test_a_fail_step_fails_the_run_with_its_message_and_stops_it(tmp_path: Any) -> None:
    definition = {
        "Version": "2020-12-01",
        "Parameters": [{"Name": "Reason", "Type": "String", "DefaultValue": "default"}],
        "Steps": [
            {
                "Name": "Stop",
                "Type": "Fail",
                "Arguments": {
                    "ErrorMessage": {
                        "Std:Join": {"On": ": ", "Values": ["stopped", {"Get": "Parameters.Reason"}]}
                    }
                },
            },
            {"Name": "After", "Type": "Condition", "DependsOn": ["Stop"], "Arguments": {"Conditions": []}},
        ],
    }
    run = _run_definition(definition, tmp_path, Reason="data too old")
    assert run.status == "Failed"
    assert (run.step("Stop").status, run.step("Stop").detail) == ("Failed", "stopped: data too old")
    assert (run.step("After").status, run.step("After").detail) == ("NotRun", "the run stopped at Stop")
    assert run.failure_reason == "Stop: stopped: data too old"
