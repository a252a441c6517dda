"""SageMaker Model Registry: one model package group per project, approval events, grants.

``ModelPackageGroup`` stands alone so that a tier-3 project stack can create its own group
without referencing tier 2's stack; ``ModelRegistry`` (in SharedAssets) owns the kit's
registry event bus and makes groups with the kit's naming and reader accounts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from mlops_kit.errors import KitError

STATE_CHANGE = "SageMaker Model Package State Change"
_GROUP_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")
MAX_GROUP_NAME = 63


def model_package_group_name(prefix: str, project: str) -> str:
    """``<prefix>-<project>``, checked against SageMaker's rules before synth."""
    name = f"{prefix}-{project}"
    if len(name) > MAX_GROUP_NAME or not _GROUP_NAME.match(name):
        raise KitError(
            f"model package group name {name!r} (from prefix {prefix!r} and project {project!r}) is invalid: "
            f"at most {MAX_GROUP_NAME} letters, digits and single hyphens"
        )
    return name


def approval_event_pattern(group_name: str) -> events.EventPattern:
    """Approved packages of one group only: any-state-change also fires for new, pending packages."""
    return events.EventPattern(
        source=["aws.sagemaker"],
        detail_type=[STATE_CHANGE],
        detail={"ModelPackageGroupName": [group_name], "ModelApprovalStatus": ["Approved"]},
    )


class ModelPackageGroup(Construct):
    """A model package group named ``<prefix>-<project>``, retained on deletion.

    ``reader_accounts`` (default none) get read access through the group's resource policy,
    so staging and production accounts can deploy approved packages. ``grant_register``
    lets a role add packages that start as PendingManualApproval (execution roles, ML
    engineers); ``grant_approve`` lets it change their approval status (ML engineers,
    MLOps). ``on_approved`` adds an EventBridge rule for approvals of this group only.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        project: str,
        description: str | None = None,
        reader_accounts: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        self.model_package_group_name = model_package_group_name(prefix, project)
        stack = Stack.of(self)
        self.model_package_group_arn = stack.format_arn(
            service="sagemaker", resource="model-package-group", resource_name=self.model_package_group_name
        )
        self.model_packages_arn = stack.format_arn(
            service="sagemaker", resource="model-package", resource_name=f"{self.model_package_group_name}/*"
        )
        policy = None
        if reader_accounts:
            readers = [iam.AccountPrincipal(account) for account in reader_accounts]
            policy = iam.PolicyDocument(
                statements=[
                    iam.PolicyStatement(
                        sid="ReaderAccountsDescribeGroup", principals=readers,
                        actions=["sagemaker:DescribeModelPackageGroup"], resources=[self.model_package_group_arn],
                    ),
                    iam.PolicyStatement(
                        sid="ReaderAccountsReadPackages", principals=readers,
                        actions=["sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"], resources=[self.model_packages_arn],
                    ),
                ]
            )
        self.resource = sagemaker.CfnModelPackageGroup(
            self,
            "Resource",
            model_package_group_name=self.model_package_group_name,
            model_package_group_description=description or f"{prefix}: models of project {project}",
            model_package_group_policy=policy,
        )
        self.resource.apply_removal_policy(RemovalPolicy.RETAIN)

    def _read_actions(self) -> list[str]:
        return ["sagemaker:DescribeModelPackageGroup", "sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"]

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Describe the group and list and describe its packages."""
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=self._read_actions(), resource_arns=[self.model_package_group_arn, self.model_packages_arn]
        )

    def grant_register(self, grantee: iam.IGrantable) -> iam.Grant:
        """Register new packages, which can only start as PendingManualApproval."""
        self.grant_read(grantee)
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["sagemaker:AddTags"], resource_arns=[self.model_package_group_arn, self.model_packages_arn]
        )
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sagemaker:CreateModelPackage"],
            resource_arns=[self.model_package_group_arn, self.model_packages_arn],
            # StringEquals, not ...IfExists: a request that leaves the status out is refused too.
            conditions={"StringEquals": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}},
        )

    def grant_approve(self, grantee: iam.IGrantable) -> iam.Grant:
        """Approve or reject packages (UpdateModelPackage) of this group only."""
        self.grant_read(grantee)
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["sagemaker:UpdateModelPackage"], resource_arns=[self.model_packages_arn]
        )

    def on_approved(
        self,
        construct_id: str,
        *,
        target: events.IRuleTarget | None = None,
        event_bus: events.IEventBus | None = None,
        description: str | None = None,
    ) -> events.Rule:
        """A rule matching ``ModelApprovalStatus: Approved`` for this group (default event bus)."""
        rule = events.Rule(
            self,
            construct_id,
            event_bus=event_bus,
            event_pattern=approval_event_pattern(self.model_package_group_name),
            description=description or f"Approved model packages of {self.model_package_group_name}",
        )
        if target is not None:
            rule.add_target(target)
        return rule


class ModelRegistry(Construct):
    """The kit's registry: an event bus with every model package state change of the kit.

    A rule on the default bus forwards ``SageMaker Model Package State Change`` events of
    groups named ``<prefix>-*`` to the bus ``<prefix>-model-registry`` (a fixed name, so
    projects find it through SSM). ``add_group`` makes a ``ModelPackageGroup`` with the
    kit's naming and reader accounts, in this construct or in another stack's ``scope``.
    When ``artifacts_bucket`` is given, reader accounts may also read its ``models/`` prefix.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        reader_accounts: Sequence[str] = (),
        artifacts_bucket: s3.IBucket | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.prefix = prefix
        self.reader_accounts = tuple(reader_accounts)
        self.event_bus = events.EventBus(self, "EventBus", event_bus_name=f"{prefix}-model-registry")
        self.forward_rule = events.Rule(
            self,
            "ForwardStateChanges",
            description=f"{prefix}: model package state changes of the kit's groups, to the registry bus",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=[STATE_CHANGE],
                detail={"ModelPackageGroupName": [{"prefix": f"{prefix}-"}]},
            ),
            targets=[targets.EventBus(self.event_bus)],
        )
        if self.reader_accounts and artifacts_bucket is not None:
            artifacts_bucket.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="ReaderAccountsReadModelArtifacts",
                    principals=[iam.AccountPrincipal(a) for a in self.reader_accounts],
                    actions=["s3:GetObject", "s3:GetObjectVersion"],
                    resources=[artifacts_bucket.arn_for_objects("models/*")],
                )
            )

    def add_group(
        self, project: str, *, scope: Construct | None = None, construct_id: str = "ModelPackageGroup", description: str | None = None
    ) -> ModelPackageGroup:
        """A ``<prefix>-<project>`` group in ``scope`` (default: this registry)."""
        return ModelPackageGroup(
            scope or self,
            construct_id if scope is not None else f"Group{''.join(p.capitalize() for p in project.split('-'))}",
            prefix=self.prefix,
            project=project,
            description=description,
            reader_accounts=self.reader_accounts,
        )
