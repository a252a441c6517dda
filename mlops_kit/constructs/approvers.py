"""Who approves a production deployment: the roles named by a project's ``approvers``.

The deploy flow asks for approval with a Step Functions task token sent to the project's
approval topic; approvers answer with ``states:SendTaskSuccess`` or ``SendTaskFailure``.
Those actions support no resource-level permissions (Service Authorization Reference,
https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsstepfunctions.html):
a statement scoped to the state machine never matches. So the grant is on ``*``, the
principal is what is scoped, and the token, sent only to this project's topic, is the
secret. Nobody who registers models is an approver: the configuration refuses
``ml_engineer`` (``mlops_kit.config.project``), and execution roles are never named.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from mlops_kit.constructs.identity import persona_role_name
from mlops_kit.nag import nag_arn, suppress


def approver_roles(scope: Construct, prefix: str, approvers: Sequence[str], *, team_role: iam.IRole) -> list[iam.IRole]:
    """``team`` is the project's team role, a persona name its role, an ARN that role."""
    roles: list[iam.IRole] = []
    for index, approver in enumerate(approvers):
        if approver == "team":
            roles.append(team_role)
        elif approver.startswith("arn:"):
            roles.append(iam.Role.from_role_arn(scope, f"Approver{index}", approver, mutable=True))
        else:
            construct_id = "Approver" + "".join(part.capitalize() for part in approver.split("_"))
            roles.append(iam.Role.from_role_name(scope, construct_id, persona_role_name(prefix, approver)))
    return roles


class ProductionApprovers(Construct):
    """One policy on every approver: answer the task token, follow the flow, subscribe to its topic."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        approvers: Sequence[iam.IRole],
        state_machine: sfn.StateMachine,
        approval_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        executions = Stack.of(self).format_arn(
            service="states", resource="execution", resource_name=f"{state_machine.state_machine_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.policy = iam.Policy(
            self,
            "Resource",
            statements=[
                iam.PolicyStatement(sid="AnswerTaskToken", actions=["states:SendTaskSuccess", "states:SendTaskFailure"], resources=["*"]),
                iam.PolicyStatement(sid="FollowDeployments", actions=["states:DescribeExecution"], resources=[executions]),
                iam.PolicyStatement(sid="HearApprovalRequests", actions=["sns:Subscribe"], resources=[approval_topic.topic_arn]),
            ],
        )
        for role in approvers:
            role.attach_inline_policy(self.policy)
        machine_id = Stack.of(self).get_logical_id(state_machine.node.default_child)  # type: ignore[arg-type]
        suppress(
            self.policy,
            "AwsSolutions-IAM5",
            "states:SendTaskSuccess/SendTaskFailure support no resource-level permissions (the task token is the secret, "
            "the approvers are the scope); DescribeExecution on this state machine's own executions",
            applies_to=["Resource::*", nag_arn("states", f"execution:<{machine_id}.Name>:*")],
        )
