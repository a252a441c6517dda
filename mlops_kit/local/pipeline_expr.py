"""The expression language of a SageMaker pipeline definition, evaluated for the local runner.

A definition (``DescribePipeline``'s ``PipelineDefinition``, schema version 2020-12-01) writes
values that are only known while it runs as JSON functions:

- ``{"Get": "Parameters.<name>"}``: an execution parameter, its default or the caller's value;
- ``{"Get": "Execution.<variable>"}``: ``PipelineExecutionId``, ``PipelineExecutionArn``,
  ``PipelineName``, ``PipelineArn``, ``StartDateTime``, ``CurrentDateTime``;
- ``{"Get": "Steps.<step>.<property path>"}``: a property of an earlier step, read from that
  step's describe output (``ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri``: a string
  index into a list picks the member whose ``*Name`` is that string, as the SDK writes it);
- ``{"Get": "Steps.<step>.PropertyFiles.<name>"}``: a JSON file a processing step wrote, used
  only inside ``Std:JsonGet``;
- ``{"Std:Join": {"On": sep, "Values": [...]}}`` and
  ``{"Std:JsonGet": {"PropertyFile": ..., "Path": "a.b[0].c"}}``.

Parameters take the caller's values (``-p KEY=VALUE``, typed as the definition declares them:
``String``, ``Integer``, ``Float``, ``Boolean``) or their ``DefaultValue``.

Condition steps compare with ``Equals``, ``GreaterThan``, ``GreaterThanOrEqualTo``,
``LessThan``, ``LessThanOrEqualTo``, ``In``, ``Not`` and ``Or``; a step's conditions are ANDed.
A data dependency is created by a ``Get`` on another step's properties, so the same walk gives
the dependency graph (https://docs.aws.amazon.com/sagemaker/latest/dg/pipelines-sdk.html:
"the structure of a pipeline's DAG is determined by the data dependencies between steps").
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlops_kit.errors import KitError


class ExpressionError(KitError):
    """A definition's expression cannot be evaluated (unknown function, missing property)."""


class PipelineRunError(KitError):
    """The pipeline cannot be started: unknown pipeline, bad parameter, unreadable definition."""


_STEP_REF = re.compile(r"^Steps\.([A-Za-z0-9_-]+)\.(.+)$")
# One segment of a property path: ``.Name``, ``['key']``/``["key"]`` or ``[0]``.
_SEGMENT = re.compile(r"\.?([A-Za-z0-9_:-]+)|\[\s*'([^']*)'\s*\]|\[\s*\"([^\"]*)\"\s*\]|\[\s*(\d+)\s*\]")


@dataclass
class Scope:
    """What expressions can read while an execution runs."""

    parameters: dict[str, Any]
    execution: dict[str, Any]
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)  # step -> describe output
    property_files: dict[tuple[str, str], Any] = field(default_factory=dict)  # (step, file) -> JSON


def path_segments(path: str) -> list[str | int]:
    """``A.B['k'][0]`` -> ``["A", "B", "k", 0]``; refuse anything else."""
    segments: list[str | int] = []
    position = 0
    while position < len(path):
        match = _SEGMENT.match(path, position)
        if not match or match.end() == position:
            raise ExpressionError(f"property path {path!r}: cannot read it from position {position}")
        name, single, double, index = match.groups()
        segments.append(int(index) if index is not None else (name or single or double or ""))
        position = match.end()
    return segments


def _step(container: Any, segment: str | int, path: str) -> Any:
    if isinstance(container, list):
        if isinstance(segment, int):
            if segment < len(container):
                return container[segment]
        else:
            # Outputs['train'], InputDataConfig['code']: the member whose *Name is the key.
            for member in container:
                if isinstance(member, dict) and any(
                    key.endswith("Name") and value == segment for key, value in member.items()
                ):
                    return member
    elif isinstance(container, dict) and isinstance(segment, str) and segment in container:
        return container[segment]
    raise ExpressionError(f"{path}: no {segment!r} in the step's properties")


def read_path(document: Any, path: str, *, label: str) -> Any:
    value = document
    for segment in path_segments(path):
        value = _step(value, segment, label)
    return value


def step_references(value: Any) -> set[str]:
    """The step names a value reads through ``Get`` (its data dependencies)."""
    found: set[str] = set()
    if isinstance(value, dict):
        target = value.get("Get") if len(value) == 1 else None
        if isinstance(target, str):
            match = _STEP_REF.match(target)
            if match:
                found.add(match.group(1))
            return found
        for item in value.values():
            found |= step_references(item)
    elif isinstance(value, list):
        for item in value:
            found |= step_references(item)
    return found


def evaluate(value: Any, scope: Scope) -> Any:
    """The value with every pipeline function replaced by what it gives in ``scope``."""
    if isinstance(value, list):
        return [evaluate(item, scope) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, argument),) = value.items()
        if key == "Get":
            return _get(str(argument), scope)
        if key == "Std:Join":
            parts = [_text(evaluate(item, scope)) for item in argument.get("Values", [])]
            return str(argument.get("On", "")).join(parts)
        if key == "Std:JsonGet":
            return _json_get(argument, scope)
        if key.startswith("Std:"):
            raise ExpressionError(f"{key}: the local runner does not know this function")
    return {key: evaluate(item, scope) for key, item in value.items()}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return (
        value
        if isinstance(value, str)
        else json.dumps(value)
        if isinstance(value, dict | list)
        else str(value)
    )


def _get(target: str, scope: Scope) -> Any:
    kind, _, rest = target.partition(".")
    if kind == "Parameters":
        if rest not in scope.parameters:
            raise ExpressionError(f"Get {target}: the pipeline has no parameter {rest!r}")
        return scope.parameters[rest]
    if kind == "Execution":
        if rest not in scope.execution:
            raise ExpressionError(f"Get {target}: unknown execution variable")
        return scope.execution[rest]
    match = _STEP_REF.match(target)
    if not match:
        raise ExpressionError(f"Get {target}: expected Parameters., Execution. or Steps.")
    step, path = match.groups()
    if path.startswith("PropertyFiles."):
        raise ExpressionError(f"Get {target}: a property file is read only through Std:JsonGet")
    if step not in scope.steps:
        raise ExpressionError(f"Get {target}: step {step!r} has not run")
    return read_path(scope.steps[step], path, label=f"Get {target}")


def _json_get(argument: Mapping[str, Any], scope: Scope) -> Any:
    reference = argument.get("PropertyFile", {})
    target = reference.get("Get", "") if isinstance(reference, dict) else ""
    match = _STEP_REF.match(target)
    if not match or not match.group(2).startswith("PropertyFiles."):
        raise ExpressionError(
            f"Std:JsonGet: PropertyFile {reference!r} is not Steps.<step>.PropertyFiles.<name>"
        )
    step, name = match.group(1), match.group(2).removeprefix("PropertyFiles.")
    if (step, name) not in scope.property_files:
        raise ExpressionError(f"Std:JsonGet: step {step!r} produced no property file {name!r}")
    path = str(argument.get("Path", ""))
    return read_path(scope.property_files[(step, name)], path, label=f"Std:JsonGet {name} {path}")


_COMPARE = {
    "Equals": lambda left, right: left == right,
    "GreaterThan": lambda left, right: left > right,
    "GreaterThanOrEqualTo": lambda left, right: left >= right,
    "LessThan": lambda left, right: left < right,
    "LessThanOrEqualTo": lambda left, right: left <= right,
}


_SYMBOL = {
    "Equals": "==",
    "GreaterThan": ">",
    "GreaterThanOrEqualTo": ">=",
    "LessThan": "<",
    "LessThanOrEqualTo": "<=",
}


def _comparable(left: Any, right: Any) -> tuple[Any, Any]:
    """Numbers compare as numbers, also when one side is a parameter's string."""
    if (isinstance(left, int | float) and isinstance(right, str)) or (
        isinstance(right, int | float) and isinstance(left, str)
    ):
        try:
            return float(left), float(right)
        except ValueError:
            pass
    return left, right


def condition(spec: Mapping[str, Any], scope: Scope) -> tuple[bool, str]:
    """Decide one condition; also say in words what was compared."""
    kind = spec.get("Type")
    if kind in _COMPARE:
        left, right = _comparable(
            evaluate(spec.get("LeftValue"), scope), evaluate(spec.get("RightValue"), scope)
        )
        try:
            outcome = bool(_COMPARE[str(kind)](left, right))
        except TypeError:
            raise ExpressionError(f"{kind}: cannot compare {left!r} with {right!r}") from None
        return (
            outcome,
            f"{_describe(spec.get('LeftValue'))} {_text(left)} {_SYMBOL[str(kind)]} {_text(right)}",
        )
    if kind == "In":
        query = evaluate(spec.get("QueryValue"), scope)
        values = evaluate(spec.get("Values", []), scope)
        return query in values, f"{_text(query)} In {values}"
    if kind == "Not":
        inner, said = condition(spec.get("Condition", {}), scope)
        return not inner, f"Not ({said})"
    if kind == "Or":
        results = [condition(item, scope) for item in spec.get("Conditions", [])]
        return any(ok for ok, _ in results), " Or ".join(f"({said})" for _, said in results)
    raise ExpressionError(f"condition type {kind!r}: the local runner does not know it")


def _describe(value: Any) -> str:
    """A short name for an expression: the JSON path of a JsonGet, the target of a Get."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, argument),) = value.items()
        if key == "Std:JsonGet" and isinstance(argument, dict):
            # binary_classification_metrics.accuracy.value -> accuracy
            names = [
                s for s in path_segments(str(argument.get("Path", ""))) if isinstance(s, str) and s != "value"
            ]
            return names[-1] if names else key
        if key == "Get":
            return str(argument)
    return _text(value)


def all_conditions(specs: list[Mapping[str, Any]], scope: Scope) -> tuple[bool, list[str]]:
    """A condition step's outcome: every condition must hold."""
    results = [condition(spec, scope) for spec in specs]
    return all(ok for ok, _ in results), [said for _, said in results]


def parameter_values(
    pipeline: str, definition: Mapping[str, Any], overrides: Mapping[str, str]
) -> dict[str, Any]:
    """The execution's parameter values: the caller's, typed as declared, else the defaults."""
    declared = {item["Name"]: item for item in definition.get("Parameters", [])}
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise PipelineRunError(
            f"-p {unknown[0]}: pipeline {pipeline} has no such parameter; it takes {', '.join(declared) or 'none'}"
        )
    values: dict[str, Any] = {}
    for name, item in declared.items():
        if name in overrides:
            values[name] = _typed(pipeline, name, item.get("Type", "String"), overrides[name])
        elif "DefaultValue" in item:
            values[name] = item["DefaultValue"]
        else:
            raise PipelineRunError(
                f"-p {name}=VALUE: pipeline {pipeline} has no default for {name}; pass one"
            )
    return values


def _typed(pipeline: str, name: str, kind: str, text: str) -> Any:
    try:
        if kind == "Integer":
            return int(text)
        if kind == "Float":
            return float(text)
    except ValueError:
        raise PipelineRunError(f"-p {name}={text}: pipeline {pipeline} expects a {kind}") from None
    if kind == "Boolean":
        if text.lower() not in ("true", "false"):
            raise PipelineRunError(f"-p {name}={text}: pipeline {pipeline} expects true or false")
        return text.lower() == "true"
    return text
