"""The SageMaker calls a Step Functions definition makes at run time, read at synth.

A deploy flow creates its model, endpoint configs and monitoring schedules while it runs, so
CloudFormation never sees them: the rules read the state machine's definition instead. CDK
renders ``DefinitionString`` as an ``Fn::Join`` of literal JSON and tokens; every token is
replaced by a placeholder (``_base.TOKEN``) before parsing. A definition that still does not
parse (a token outside a JSON string) gives no calls, so the rules report N/A rather than fail.

Both integrations are read: ``arn:aws:states:::aws-sdk:sagemaker:createModel`` and the
optimized ``arn:aws:states:::sagemaker:createModel``; ``Parameters`` (JSONPath) and
``Arguments`` (JSONata). A ``Key.$`` parameter is a runtime value: it is returned under
``Key`` with the path as its value, and counts as present.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from aws_cdk import CfnResource

from mlops_kit.rules._base import TOKEN, properties

STATE_MACHINE = "AWS::StepFunctions::StateMachine"
_SAGEMAKER_TASK = re.compile(r":states:::(?:aws-sdk:)?sagemaker:(\w+?)(?:\.sync|\.waitForTaskToken)?$")


@dataclass(frozen=True)
class Call:
    """One SageMaker API call of a state machine: the state's name, the action and its parameters."""

    state: str
    action: str
    parameters: dict[str, Any]


def sagemaker_calls(node: CfnResource, *actions: str) -> list[Call]:
    """The state machine's SageMaker calls whose action (``createModel``...) is in ``actions``."""
    definition = _definition(properties(node))
    if definition is None:
        return []
    wanted = {action.lower() for action in actions}
    return [call for call in _walk(definition) if call.action.lower() in wanted]


def _definition(props: dict[str, Any]) -> dict[str, Any] | None:
    if isinstance(props.get("Definition"), dict):
        document = _detokenize(props["Definition"])
        return document if isinstance(document, dict) else None
    text = props.get("DefinitionString")
    if isinstance(text, dict) and "Fn::Join" in text:
        separator, parts = text["Fn::Join"]
        text = separator.join(part if isinstance(part, str) else TOKEN for part in parts)
    if not isinstance(text, str):
        return None
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return None
    return document if isinstance(document, dict) else None


def _detokenize(value: Any) -> Any:
    """An object-form definition with intrinsics swapped for the placeholder, like the string form."""
    if isinstance(value, dict):
        if len(value) == 1 and (next(iter(value)) == "Ref" or next(iter(value)).startswith("Fn::")):
            return TOKEN
        return {key: _detokenize(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_detokenize(item) for item in value]
    return value


def _walk(definition: dict[str, Any]) -> list[Call]:
    calls: list[Call] = []
    for name, state in (definition.get("States") or {}).items():
        if not isinstance(state, dict):
            continue
        resource = state.get("Resource")
        match = _SAGEMAKER_TASK.search(resource) if isinstance(resource, str) else None
        if state.get("Type") == "Task" and match:
            parameters = state.get("Parameters", state.get("Arguments"))
            calls.append(Call(name, match.group(1), _plain(parameters) if isinstance(parameters, dict) else {}))
        for branch in state.get("Branches") or []:
            calls.extend(_walk(branch))
        for key in ("ItemProcessor", "Iterator"):
            if isinstance(state.get(key), dict):
                calls.extend(_walk(state[key]))
    return calls


def _plain(value: Any) -> Any:
    """``{"Name.$": "$.x"}`` -> ``{"Name": "<runtime $.x>"}``: a path is a value known only at run time."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key.endswith(".$"):
                out[key[:-2]] = f"{TOKEN}{item}"
            else:
                out[key] = _plain(item)
        return out
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value
