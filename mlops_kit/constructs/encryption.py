"""Customer-managed KMS keys: one for data, one for logs.

Every key denies ``kms:CreateGrant`` unless the grant is for an AWS resource or the caller is
an AWS service (``kms:GrantIsForAWSResource``, ``aws:PrincipalIsAWSService``,
https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-grant-is-for-aws-resource):
a grant outlives the policy that allowed it, so nobody may hand key use to a principal the
key policy does not name. This is Control Tower's proactive control CT.KMS.PR.3.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct


def platform_key(scope: Construct, construct_id: str, *, description: str, alias: str) -> kms.Key:
    """The one place the kit's key defaults live: rotated yearly, 30-day deletion window, retained."""
    key = kms.Key(
        scope,
        construct_id,
        description=description,
        alias=alias,
        enable_key_rotation=True,
        pending_window=Duration.days(30),
        removal_policy=RemovalPolicy.RETAIN,
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="GrantsOnlyForAwsResources",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["kms:CreateGrant"],
            resources=["*"],
            conditions={"BoolIfExists": {"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}},
        )
    )
    return key


def allow_cloudwatch_logs(key: kms.IKey) -> None:
    """CloudWatch Logs encrypts with ``key`` itself; limited to this account's log groups in this region.

    https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
    """
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchLogsOfThisAccount",
            principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
            actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            resources=["*"],
            conditions={
                "ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:*"}
            },
        )
    )


class PlatformKeys(Construct):
    """The platform's KMS keys, rotated yearly and retained when the stack is deleted.

    ``data_key`` encrypts buckets, SageMaker volumes, Studio storage, feature groups and
    pipeline artifacts; ``logs_key`` encrypts CloudWatch log groups (flow logs, jobs).
    Keeping logs apart lets Cloud & Security read logs without reading data.
    """

    def __init__(self, scope: Construct, construct_id: str, *, prefix: str) -> None:
        super().__init__(scope, construct_id)
        self.data_key = platform_key(
            self,
            "DataKey",
            description=f"{prefix}: SageMaker data, artifacts, volumes and Studio storage",
            alias=f"alias/{prefix}/data",
        )
        self.logs_key = platform_key(
            self, "LogsKey", description=f"{prefix}: CloudWatch Logs of the platform", alias=f"alias/{prefix}/logs"
        )
        allow_cloudwatch_logs(self.logs_key)

    def allow_accounts_decrypt(
        self, key: kms.IKey, accounts: Sequence[str], sid: str, *, via_service: str | None = None
    ) -> None:
        """Let other accounts decrypt with ``key`` (model artifacts they deploy), through ``via_service`` only when given."""
        statement = iam.PolicyStatement(
            sid=sid,
            principals=[iam.AccountPrincipal(account) for account in accounts],
            actions=["kms:Decrypt", "kms:DescribeKey"],
            resources=["*"],
        )
        if via_service is not None:
            statement.add_condition("StringEquals", {"kms:ViaService": via_service})
        key.add_to_resource_policy(statement)

    def allow_key_use(
        self,
        key: kms.IKey,
        principal: iam.IPrincipal,
        sid: str,
        *,
        create_grants: bool = False,
        via_services: Sequence[str] = (),
    ) -> None:
        """Name ``principal`` in the key policy, so the key itself says who uses it.

        ``via_services`` (service names such as ``s3``) confine a person's use of the key to
        requests those services make on their behalf (``kms:ViaService``): people read
        encrypted data through S3 or SageMaker, never by decrypting with the key directly.
        """
        actions = ["kms:Decrypt", "kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
        if create_grants:
            actions.append("kms:CreateGrant")
        statement = iam.PolicyStatement(sid=sid, principals=[principal], actions=actions, resources=["*"])
        if create_grants:
            statement.add_condition("Bool", {"kms:GrantIsForAWSResource": "true"})
        if via_services:
            statement.add_condition("StringEquals", {"kms:ViaService": [f"{name}.{Aws.REGION}.amazonaws.com" for name in via_services]})
        key.add_to_resource_policy(statement)

    def allow_alarm_notifications(self, key: kms.IKey) -> None:
        """CloudWatch alarms and budgets of this account publish to topics encrypted with ``key``.

        A service that publishes to an encrypted SNS topic needs Decrypt and GenerateDataKey*
        on its key (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services);
        the project's notification topic hears its alarms and its budget.
        """
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsOfThisAccountNotify",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com"), iam.ServicePrincipal("budgets.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
