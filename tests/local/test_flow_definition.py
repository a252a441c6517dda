"""The synthesized deploy flow, judged by executing it: the wait loops' exits in moto's own ASL
interpreter (in-process ``mock_aws`` with execution on), and the staging choice in the definition.

The wait loop is the synthesized one: the definition is read from the template and started at
``Describe<Stage>Endpoint`` on an endpoint moto's backend is told to report in a bad state.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mlops_kit.constructs.deployment_steps import FAILED_STATUSES, NOT_YET_VISIBLE, THROTTLED
from mlops_kit.local.intrinsics import Evaluator

ACCOUNT, REGION = "123456789012", "us-east-1"


def _definition(assembly: Path, stack: str) -> dict[str, Any]:
    template = json.loads((assembly / f"{stack}.template.json").read_text())
    (machine,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    evaluator = Evaluator(
        lambda logical_id, attr: f"arn:aws:iam::{ACCOUNT}:role/{logical_id}" if attr == "Arn" else logical_id,
        {},
        {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws", "AWS::StackName": stack, "AWS::URLSuffix": "amazonaws.com"},
        mappings=template.get("Mappings"),
    )
    text = evaluator.resolve(machine["Properties"]["DefinitionString"])
    definition: dict[str, Any] = json.loads(text)
    return definition


def _tasks(definition: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in definition["States"].values() if s.get("Resource", "").endswith(f":sagemaker:{action}")]


@pytest.mark.parametrize("status", FAILED_STATUSES)
def test_wait_loop_ends_in_a_fail_state_on(status: str, flow_assembly: Path) -> None:
    definition = _definition(flow_assembly, "FlowInstance")
    definition["StartAt"] = "DescribeStagingEndpoint"
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):  # type: ignore[arg-type]
        sm = boto3.client("sagemaker", region_name=REGION)
        sm.create_model(ModelName="m", ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/r", PrimaryContainer={"Image": "i"})
        sm.create_endpoint_config(
            EndpointConfigName="flow-test-staging-v1",
            ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "m", "InstanceType": "ml.t2.medium", "InitialInstanceCount": 1}],
        )
        sm.create_endpoint(EndpointName="flow-test-staging", EndpointConfigName="flow-test-staging-v1")
        from moto.sagemaker.models import sagemaker_backends

        sagemaker_backends[ACCOUNT][REGION].endpoints["flow-test-staging"].endpoint_status = status
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machine = sfn.create_state_machine(name="loop", definition=json.dumps(definition), roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn")
        execution = sfn.start_execution(
            stateMachineArn=machine["stateMachineArn"],
            input=json.dumps({"detail": {"ModelPackageVersion": 1}, "stagingConfig": {"name": "flow-test-staging-v1"}}),
        )["executionArn"]
        deadline = time.monotonic() + 30
        while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
            assert time.monotonic() < deadline, "the wait loop did not end"
            time.sleep(0.1)
    assert described["status"] == "FAILED"
    assert described["error"] == "StagingDeploymentFailed"
    assert described["cause"] == f"flow-test-staging is {status}: it will not reach InService"


def test_sagemaker_tasks_retry_with_backoff(flow_assembly: Path) -> None:
    definition = _definition(flow_assembly, "FlowInstance")
    sagemaker_tasks = [s for s in definition["States"].values() if ":sagemaker:" in s.get("Resource", "")]
    assert sagemaker_tasks
    for task in sagemaker_tasks:
        throttled = next(r for r in task["Retry"] if r["ErrorEquals"] == THROTTLED)
        assert throttled["BackoffRate"] == 2 and throttled["MaxAttempts"] >= 3
    # Only create/update wait for a config that is not visible yet; a describe that finds no
    # endpoint must fail at once (that is how the flow learns to create it).
    for action in ("createEndpoint", "updateEndpoint"):
        for task in _tasks(definition, action):
            assert any(r["ErrorEquals"] == NOT_YET_VISIBLE for r in task["Retry"])
    for task in _tasks(definition, "describeEndpoint"):
        assert all(r["ErrorEquals"] != NOT_YET_VISIBLE for r in task["Retry"])


def _models(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["Parameters"]["ModelName.$"]: t["Parameters"] for t in _tasks(definition, "createModel")}


def _variant_models(definition: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    found = []
    for task in _tasks(definition, "createEndpointConfig"):
        for variant in task["Parameters"]["ProductionVariants"]:
            found.append((variant, variant["ModelName.$"]))
    return found


@pytest.mark.parametrize("stack", ["FlowInstance", "FlowServerless"])
def test_no_serverless_endpoint_serves_a_vpc_model(stack: str, flow_assembly: Path) -> None:
    definition = _definition(flow_assembly, stack)
    models = _models(definition)
    variants = _variant_models(definition)
    assert variants
    for variant, model in variants:
        assert model in models, f"variant model {model} is created by no CreateModel task"
        if "ServerlessConfig" in variant:
            assert "VpcConfig" not in models[model] and "EnableNetworkIsolation" not in models[model]
        else:
            assert models[model]["VpcConfig"]["Subnets"] and models[model]["EnableNetworkIsolation"] is True


def test_staging_is_instance_backed_by_default_and_serverless_only_when_chosen(flow_assembly: Path) -> None:
    default, serverless = (_definition(flow_assembly, s) for s in ("FlowInstance", "FlowServerless"))
    staging = next(t for t in _tasks(default, "createEndpointConfig") if "staging" in json.dumps(t))
    assert staging["Parameters"]["ProductionVariants"][0]["InstanceType"] == "ml.t2.medium"
    assert "ServerlessConfig" not in json.dumps(default)
    chosen = next(t for t in _tasks(serverless, "createEndpointConfig") if "staging" in json.dumps(t))
    assert chosen["Parameters"]["ProductionVariants"][0]["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
    assert re.search(r"-serverless", chosen["Parameters"]["ProductionVariants"][0]["ModelName.$"])


def test_names_come_from_the_package_version_and_the_approval_message_needs_no_quotes(flow_assembly: Path) -> None:
    definition = _definition(flow_assembly, "FlowInstance")
    text = json.dumps(definition)
    assert "$$.Execution.Name" not in text  # a duplicate event must land on the same names
    assert "$.detail.ModelPackageVersion" in text
    message = definition["States"]["AskForProductionApproval"]["Parameters"]["Message"]
    assert message["task_token.$"] == "$$.Task.Token"
    template = re.match(r"States\.Format\('((?:[^'\\]|\\.)*)'", message["approve.$"])
    assert template and template.group(1) == "aws stepfunctions send-task-success --task-token {} --task-output {}"
