"""Tier 1: network, keys, identity and audit (owned by Cloud & Security and DevOps)."""

from __future__ import annotations

from aws_cdk import CfnOutput, Fn, Stack, Token
from aws_cdk import aws_iam as iam
from constructs import Construct

from mlops_kit.config import KitConfig
from mlops_kit.config.backbone import zones_for
from mlops_kit.constructs.audit import Audit
from mlops_kit.constructs.encryption import PlatformKeys
from mlops_kit.constructs.identity import PermissionBoundary, PersonaRoles, SageMakerExecutionRole
from mlops_kit.constructs.network import Network
from mlops_kit.constructs.project_insight import PLATFORM_TIERS, TIER_TAG, MonthlyBudget
from mlops_kit.constructs.retention import retention
from mlops_kit.stacks import parameters
from mlops_kit.stages import in_training_environment


class BackboneStack(Stack):
    """The platform's foundation; everything else is deployed on top of it."""

    def __init__(self, scope: Construct, construct_id: str, *, config: KitConfig, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self._known_zones = self._zones(config)
        prefix = config.prefix
        self.keys = PlatformKeys(self, "Keys", prefix=prefix)
        self.boundary = PermissionBoundary(self, "PermissionBoundary", prefix=prefix)
        self.audit = Audit(
            self,
            "Audit",
            expiration_days=config.audit.access_logs_expiration_days,
            logs_key=self.keys.logs_key,
            data_events=config.audit.cloudtrail_data_events,
            data_events_bucket_prefix=f"{prefix}-",
        )
        flow_logs = config.network.flow_logs
        self.network = Network(
            self,
            "Network",
            cidr=config.network.cidr,
            az_count=config.network.az_count,
            internet=config.network.internet,
            interface_endpoints=config.interface_endpoint_names(),
            endpoint_az_count=config.network.endpoint_az_count,
            logs_key=self.keys.logs_key,
            flow_logs_retention=retention(flow_logs.retention_days) if flow_logs.enabled else None,
            availability_zones=self._known_zones,
            # The endpoint policies admit the platform's accounts: the delivery environments
            # (serving accounts load models from training's buckets) and registry readers.
            platform_accounts=sorted({*config.delivery.accounts(), *config.shared_assets.model_registry.reader_accounts}),
        )
        self.personas = PersonaRoles(
            self,
            "Personas",
            prefix=prefix,
            principals=config.personas.model_dump(),
            boundary=self.boundary.policy,
        )
        self.execution = SageMakerExecutionRole(
            self, "SageMakerExecution", prefix=prefix, data_key=self.keys.data_key, boundary=self.boundary.policy
        )
        # The data key's policy names its users: the execution role, and Studio's grants.
        self.keys.allow_key_use(self.keys.data_key, self.execution.role, "SageMakerExecutionRole", create_grants=True)
        for persona in ("data_scientist", "ml_engineer", "mlops_engineer"):
            self.keys.allow_key_use(
                self.keys.data_key, self.personas.roles[persona], f"Persona{persona.title().replace('_', '')}",
                via_services=("s3", "sagemaker"),
            )
        # The projects' rollback alarms notify through topics encrypted with the data key.
        self.keys.allow_alarm_notifications(self.keys.data_key)
        serving = self._serving_accounts(config)
        if serving:
            # Endpoints in the staging and production accounts load approved models that
            # training wrote here: decrypt through S3 only, for exactly those accounts.
            self.keys.allow_accounts_decrypt(
                self.keys.data_key, serving, "ServingAccountsDecryptModelArtifacts", via_service=f"s3.{self.region}.amazonaws.com"
            )

        budget = config.budget
        self.budget = MonthlyBudget(
            self,
            "PlatformBudget",
            budget_name=f"{prefix}-platform",
            monthly_limit_usd=budget.monthly_limit_usd,
            alert_emails=budget.alert_emails,
            alert_at_percent=budget.alert_at_percent,
            tag_values={TIER_TAG: PLATFORM_TIERS},
        )

        values = {
            "vpc-id": self.network.vpc.vpc_id,
            "private-subnet-ids": Fn.join(",", self.network.private_subnet_ids),
            "workload-security-group-id": self.network.workload_security_group.security_group_id,
            "data-key-arn": self.keys.data_key.key_arn,
            "logs-key-arn": self.keys.logs_key.key_arn,
            "access-logs-bucket-name": self.audit.access_logs_bucket.bucket_name,
            "execution-role-arn": self.execution.role.role_arn,
        }
        values.update({f"persona/{name.replace('_', '-')}-role-arn": role.role_arn for name, role in self.personas.roles.items()})
        self.parameters = parameters.publish(self, prefix, values)
        # Every role of this stack, CDK's own helper roles included, sits under the boundary.
        iam.PermissionsBoundary.of(self).apply(self.boundary.policy)
        for name, role in self.personas.roles.items():
            CfnOutput(self, f"{name.title().replace('_', '')}RoleArn", value=role.role_arn, description=f"Assume this role as a {name.replace('_', ' ')}")

    def _serving_accounts(self, config: KitConfig) -> list[str]:
        """In the training environment of a delivery, the later environments' other accounts."""
        return config.delivery.deployment_accounts() if in_training_environment(self, config.delivery) else []

    def _zones(self, config: KitConfig) -> list[str] | None:
        """Zones for a pinned region, from config or the kit's table: no AZ lookup, no AWS call at synth."""
        if Token.is_unresolved(self.region):
            return None
        return zones_for(self.region, config.network)

    @property
    def availability_zones(self) -> list[str]:
        """The VPC's zones, so ``ec2.Vpc`` never asks for the ``availability-zones`` context.

        CDK's own getter does a context lookup (credentials at synth, a lookup role in the
        pipeline's Synth step) for any stack with a pinned account and region, even when the
        VPC is given its zones. Overriding it is the way the CDK documents to avoid that.
        """
        zones = self._known_zones
        return zones if zones is not None else list(super().availability_zones)

    @property
    def permission_boundary(self) -> iam.IManagedPolicy:
        return self.boundary.policy
