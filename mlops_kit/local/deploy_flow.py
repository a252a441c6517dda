"""Drive a project's deploy flow in the embedded AWS as an approver would: from the outside.

Nothing here starts the flow or fakes a step. Approving a package with ``UpdateModelPackage``
makes SageMaker (the ``sagemaker-events`` shim) send its state-change event, the project's
EventBridge rule starts the state machine (``sfn-targets``), and the flow publishes its
production approval request to the project's SNS topic. ``ApprovalInbox`` is an SQS queue
subscribed to that topic, as a team's tooling would subscribe; the token it reads goes back
with ``SendTaskSuccess``. The helpers only watch: executions, their history, endpoints.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

Clients = Callable[[str], Any]
WAITING_STATE = "AskForProductionApproval"


class FlowError(Exception):
    """The flow did not do what was expected in time; the message says what was seen."""


@dataclass
class ApprovalRequest:
    """The production approval request the flow published (the SNS message body)."""

    task_token: str
    approve: str
    reject: str
    model_package: str
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class FlowRun:
    execution_arn: str
    status: str
    states: list[str]  # every state entered, in order
    error: str = ""
    cause: str = ""

    @property
    def last_state(self) -> str:
        return self.states[-1] if self.states else ""


def project_resource(clients: Clients, stack_name: str, cfn_type: str, logical_hint: str) -> str:
    """The physical id of the stack's resource of ``cfn_type`` whose logical id contains ``logical_hint``."""
    cf = clients("cloudformation")
    for page in cf.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        for summary in page["StackResourceSummaries"]:
            if summary["ResourceType"] == cfn_type and logical_hint in summary["LogicalResourceId"]:
                return str(summary["PhysicalResourceId"])
    raise FlowError(f"{stack_name} has no {cfn_type} named *{logical_hint}*")


class ApprovalInbox:
    """An SQS queue subscribed to the approval topic (raw delivery: the body is the flow's message)."""

    def __init__(self, clients: Clients, topic_arn: str) -> None:
        self.sqs, self.sns = clients("sqs"), clients("sns")
        self.topic_arn = topic_arn
        self.queue_url = self.sqs.create_queue(QueueName=f"mlops-kit-approvals-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.subscription = self.sns.subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
        )["SubscriptionArn"]

    def receive(self, *, timeout: float = 20.0) -> ApprovalRequest:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=1).get("Messages", [])
            for message in messages:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
                return parse_request(message["Body"])
        raise FlowError(f"no approval request arrived on the queue subscribed to {self.topic_arn} within {timeout:.0f} s")

    def close(self) -> None:
        try:
            self.sns.unsubscribe(SubscriptionArn=self.subscription)
            self.sqs.delete_queue(QueueUrl=self.queue_url)
        except ClientError:
            pass


def parse_request(body: str) -> ApprovalRequest:
    """Read the flow's message; refuse one whose commands do not carry the token as it is."""
    try:
        message = json.loads(body)
    except json.JSONDecodeError as error:
        raise FlowError(f"the approval request is not JSON: {error}: {body[:120]!r}") from None
    token = str(message.get("task_token") or "")
    approve, reject = str(message.get("approve") or ""), str(message.get("reject") or "")
    if not token:
        raise FlowError(f"the approval request carries no task_token: {sorted(message)}")
    for label, command in (("approve", approve), ("reject", reject)):
        if f"--task-token {token}" not in command:
            raise FlowError(f"the {label} command does not carry the token as sent: {command!r}")
    return ApprovalRequest(token, approve, reject, str(message.get("model_package") or ""), message)


def executions_for(clients: Clients, machine: str, package_arn: str) -> list[str]:
    """Executions of ``machine`` started for ``package_arn`` (by their input), newest first."""
    sfn = clients("stepfunctions")
    found = []
    for execution in sfn.list_executions(stateMachineArn=machine)["executions"]:
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        detail = json.loads(described.get("input") or "{}").get("detail") or {}
        if detail.get("ModelPackageArn") == package_arn:
            found.append((described["startDate"], execution["executionArn"]))
    return [arn for _start, arn in sorted(found, reverse=True)]


def wait_for_start(clients: Clients, machine: str, package_arn: str, *, known: set[str], timeout: float = 10.0) -> str:
    """The first execution for ``package_arn`` that is not in ``known`` (started by the approval)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = [arn for arn in executions_for(clients, machine, package_arn) if arn not in known]
        if new:
            return new[-1]
        time.sleep(0.2)
    raise FlowError(f"no execution of {machine.rsplit(':', 1)[-1]} started for {package_arn} within {timeout:.0f} s")


def describe_run(clients: Clients, execution_arn: str) -> FlowRun:
    sfn = clients("stepfunctions")
    described = sfn.describe_execution(executionArn=execution_arn)
    states: list[str] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        states += [e["stateEnteredEventDetails"]["name"] for e in page["events"] if "stateEnteredEventDetails" in e]
    return FlowRun(execution_arn, described["status"], states, described.get("error", ""), described.get("cause", ""))


def wait_for(clients: Clients, execution_arn: str, *, state: str | None = None, timeout: float = 30.0) -> FlowRun:
    """Poll until the execution ends, or (``state``) until it has entered that state."""
    deadline = time.monotonic() + timeout
    while True:
        run = describe_run(clients, execution_arn)
        if run.status != "RUNNING" or (state is not None and state in run.states):
            return run
        if time.monotonic() > deadline:
            raise FlowError(f"execution still RUNNING after {timeout:.0f} s, last state {run.last_state or '(none)'}")
        time.sleep(0.2)


def endpoint(clients: Clients, name: str) -> dict[str, Any]:
    """What an approver checks on an endpoint: status, live config, ARN and creation time."""
    described = clients("sagemaker").describe_endpoint(EndpointName=name)
    return {
        "status": described["EndpointStatus"],
        "config": described["EndpointConfigName"],
        "arn": described["EndpointArn"],
        "created": described["CreationTime"],
        "modified": described["LastModifiedTime"],
    }


__all__ = [
    "WAITING_STATE",
    "ApprovalInbox",
    "ApprovalRequest",
    "FlowError",
    "FlowRun",
    "describe_run",
    "endpoint",
    "executions_for",
    "parse_request",
    "project_resource",
    "wait_for",
    "wait_for_start",
]
