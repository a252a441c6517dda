"""Tier 2: shared and reused assets (owned by ML engineers and MLOps)."""

from __future__ import annotations

from aws_cdk import Annotations, Aws, Fn, Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mlops_kit.config import KitConfig
from mlops_kit.config.backbone import zones_for
from mlops_kit.constructs.experiments import ExperimentTracking
from mlops_kit.constructs.feature_store import OFFLINE_PREFIX, FeatureStore
from mlops_kit.constructs.identity import boundary_name
from mlops_kit.constructs.model_registry import ModelRegistry
from mlops_kit.constructs.shared_data import (
    KMS_GRANT_ACTION_FINDINGS,
    S3_GRANT_ACTION_FINDINGS,
    SharedData,
    arn_finding,
    object_finding,
)
from mlops_kit.constructs.studio import SHARED_NOTEBOOKS_PREFIX, Studio
from mlops_kit.nag import suppress
from mlops_kit.stacks import parameters
from mlops_kit.stacks.backbone import BackboneStack

# The personas whose work includes experiment tracking (identity.py's "mlflow" grant, too).
MLFLOW_PERSONAS = ("data_scientist", "ml_engineer", "mlops_engineer")


class SharedAssetsStack(Stack):
    """Studio, Feature Store, Model Registry, experiment tracking and shared buckets.

    Backbone resources are read from the Backbone's SSM parameters (key, roles, VPC, subnets,
    security group, access-log bucket) and the boundary by its fixed name: no
    ``Fn::ImportValue``, so no Backbone value is pinned by an export, and every grant made here
    lands in this stack's template. The stack dependency on the Backbone only orders deploys
    and teardown. What tier 3 needs is published as SSM parameters under ``/<prefix>/platform/``.
    The Backbone's own template still receives two statements from here (log delivery on
    its access-log bucket, decrypt for registry readers); they name no SharedAssets value.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, config: KitConfig, backbone: BackboneStack, **kwargs: object
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.add_stack_dependency(backbone)  # ordering only: values come through SSM
        prefix = config.prefix
        self._prefix = prefix
        shared = config.shared_assets

        def platform(key: str) -> str:
            return parameters.lookup(self, prefix, key)

        # Local views of tier 1, read from the Backbone's SSM parameters (as tier 3 reads them):
        # no export pins a Backbone value, and grants on them write policies in this stack only.
        data_key = kms.Key.from_key_arn(self, "DataKey", platform("data-key-arn"))
        access_logs = s3.Bucket.from_bucket_name(self, "AccessLogsBucket", platform("access-logs-bucket-name"))
        execution_role = iam.Role.from_role_arn(self, "ExecutionRole", platform("execution-role-arn"), mutable=True)
        boundary = iam.ManagedPolicy.from_managed_policy_name(self, "PermissionBoundary", boundary_name(prefix))
        self._allow_access_log_delivery(backbone, prefix)

        self.shared_data = SharedData(
            self,
            "SharedData",
            encryption_key=data_key,
            access_logs_bucket=access_logs,
            noncurrent_days=shared.shared_data.noncurrent_version_days,
            raw_infrequent_access_days=shared.shared_data.raw_infrequent_access_days,
        )
        # Studio users and shared jobs work on curated data and write artifacts.
        self.shared_data.grant_read_datasets(execution_role, "curated")
        self.shared_data.grant_read_datasets(execution_role, "raw")
        self.shared_data.grant_read_write_artifacts(execution_role)

        values: dict[str, str] = {
            "datasets-bucket-name": self.shared_data.datasets_bucket.bucket_name,
            "datasets-bucket-arn": self.shared_data.datasets_bucket.bucket_arn,
            "artifacts-bucket-name": self.shared_data.artifacts_bucket.bucket_name,
            "artifacts-bucket-arn": self.shared_data.artifacts_bucket.bucket_arn,
        }

        self.studio: Studio | None = None
        if shared.studio.enabled:
            count = config.network.az_count
            zones = (
                [Fn.select(index, Fn.get_azs()) for index in range(count)]
                if Token.is_unresolved(self.region)
                else zones_for(self.region, config.network) or []
            )
            subnet_ids = Fn.split(",", platform("private-subnet-ids"), count)
            subnets = [
                ec2.Subnet.from_subnet_attributes(
                    self, f"PrivateSubnet{index + 1}", subnet_id=subnet_ids[index], availability_zone=zones[index]
                )
                for index in range(count)
            ]
            studio_config = shared.studio
            idle = studio_config.idle_shutdown
            self.studio = Studio(
                self,
                "Studio",
                prefix=prefix,
                vpc=ec2.Vpc.from_vpc_attributes(self, "Vpc", vpc_id=platform("vpc-id"), availability_zones=zones),
                vpc_subnets=ec2.SubnetSelection(subnets=subnets),
                security_group=ec2.SecurityGroup.from_security_group_id(
                    self, "WorkloadSecurityGroup", platform("workload-security-group-id"), mutable=False
                ),
                encryption_key=data_key,
                execution_role=execution_role,
                instance_types=studio_config.instance_types,
                idle_timeout_minutes=idle.idle_minutes if idle.enabled else None,
                max_idle_timeout_minutes=idle.max_idle_minutes,
                lifecycle_configs=studio_config.lifecycle_configs,
                custom_image=studio_config.custom_image,
                sharing_bucket=self.shared_data.artifacts_bucket if studio_config.notebook_sharing else None,
                tags={"kit:tier": "shared-assets"},
            )
            for profile in studio_config.user_profiles:
                self.studio.add_user_profile(
                    profile.name,
                    persona=profile.persona,
                    persona_role=self._persona_role(profile.persona),
                    instance_types=profile.instance_types,
                )
            values["studio-domain-id"] = self.studio.domain_id
            if self.studio.image_repository is not None:
                values["studio-image-repository-uri"] = self.studio.image_repository.repository_uri

        self.feature_store: FeatureStore | None = None
        if shared.feature_store.enabled:
            self.feature_store = FeatureStore(
                self,
                "FeatureStore",
                prefix=prefix,
                encryption_key=data_key,
                access_logs_bucket=access_logs,
                feature_groups=shared.feature_store.feature_groups,
                permissions_boundary=boundary,
            )
            if self.feature_store.feature_groups:
                self.feature_store.grant_read(execution_role)
            values["feature-store-offline-bucket-name"] = self.feature_store.offline_bucket.bucket_name
            values["feature-store-database-name"] = self.feature_store.database_name

        reader_accounts = shared.model_registry.reader_accounts
        self.model_registry = ModelRegistry(
            self,
            "ModelRegistry",
            prefix=prefix,
            reader_accounts=reader_accounts,
            artifacts_bucket=self.shared_data.artifacts_bucket,
        )
        if reader_accounts:
            # Reader accounts decrypt model artifacts: the key policy must name them.
            backbone.keys.allow_accounts_decrypt(backbone.keys.data_key, reader_accounts, "ModelRegistryReaderAccountsDecrypt")
        values["model-registry-event-bus-name"] = self.model_registry.event_bus.event_bus_name
        values["model-registry-event-bus-arn"] = self.model_registry.event_bus.event_bus_arn

        self.experiments: ExperimentTracking | None = None
        experiments = shared.experiments
        if experiments.enabled:
            self.experiments = ExperimentTracking(
                self,
                "Experiments",
                prefix=prefix,
                mode=experiments.mode,
                artifact_bucket=self.shared_data.artifacts_bucket,
                encryption_key=data_key,
                size=experiments.size,
                mlflow_version=experiments.mlflow_version,
                weekly_maintenance_window=experiments.weekly_maintenance_window,
                permissions_boundary=boundary,
            )
            # Jobs log runs with the execution role; the personas that track experiments open
            # the UI from Studio. Exact-ARN grants: an MLflow App's ARN carries an id, not a name.
            self.experiments.grant_access(execution_role)
            for persona in MLFLOW_PERSONAS:
                self.experiments.grant_access(self._persona_role(persona))
            values["mlflow-arn"] = self.experiments.arn
            values["mlflow-mode"] = experiments.mode
            if experiments.mode == "server":
                values["mlflow-tracking-server-arn"] = self.experiments.arn
                values["mlflow-tracking-server-name"] = self.experiments.tracking_server_name

        self._suppress_execution_role_findings(execution_role)
        for bucket in self._kit_buckets():
            # The log bucket is imported on purpose (no cycle); _allow_access_log_delivery grants S3 logging.
            Annotations.of(bucket).acknowledge_warning(
                "@aws-cdk/aws-s3:accessLogsPolicyNotAdded",
                "The Backbone's log bucket allows S3 log delivery from every bucket named <prefix>-*",
            )
        self.parameters = parameters.publish(self, prefix, values)

    def _persona_role(self, persona: str) -> iam.IRole:
        """A local, mutable view of a Backbone persona role, read from its SSM parameter: grants land in this stack."""
        construct_id = f"PersonaRole{persona.title().replace('_', '')}"
        found = self.node.try_find_child(construct_id)
        if found is not None:
            return found  # type: ignore[return-value]
        arn = parameters.lookup(self, self._prefix, f"persona/{persona.replace('_', '-')}-role-arn")
        return iam.Role.from_role_arn(self, construct_id, arn, mutable=True)

    def _kit_buckets(self) -> list[s3.Bucket]:
        buckets = [self.shared_data.datasets_bucket, self.shared_data.artifacts_bucket]
        if self.feature_store is not None:
            buckets.append(self.feature_store.offline_bucket)
        return buckets

    def _suppress_execution_role_findings(self, execution_role: iam.IRole) -> None:
        findings = [*S3_GRANT_ACTION_FINDINGS, *KMS_GRANT_ACTION_FINDINGS]
        findings += [object_finding(self.shared_data.datasets_bucket, f"{zone}/*") for zone in ("raw", "curated")]
        findings.append(object_finding(self.shared_data.artifacts_bucket, "*"))
        if self.studio is not None and self.studio.sharing_bucket is not None:
            findings.append(object_finding(self.studio.sharing_bucket, f"{SHARED_NOTEBOOKS_PREFIX}/*"))
        if self.feature_store is not None:
            findings.append(object_finding(self.feature_store.offline_bucket, f"{OFFLINE_PREFIX}/*"))
            findings.append(arn_finding(self, self.feature_store.tables_arn))
        suppress(
            execution_role,
            "AwsSolutions-IAM5",
            "The shared execution role reads the datasets zones, reads and writes the artifacts bucket and reads the "
            "offline store prefix, each in the kit's own buckets; KMS data-key variants on the kit's data key",
            applies_to=findings,
            children=True,
        )

    @staticmethod
    def _allow_access_log_delivery(backbone: BackboneStack, prefix: str) -> None:
        """Let S3 deliver server access logs from the kit's buckets into the Backbone's log bucket.

        Only pseudo parameters and the prefix appear in the statement, so the Backbone gains no
        reference to this stack. The kit's generated bucket names start with its stack names.
        """
        bucket = backbone.audit.access_logs_bucket
        if bucket.node.try_find_child("KitLogDelivery") is not None:
            return
        marker = Construct(bucket, "KitLogDelivery")  # noqa: F841 - idempotence marker
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="S3ServerAccessLogsFromKitBuckets",
                principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[bucket.arn_for_objects("*")],
                conditions={
                    "ArnLike": {"aws:SourceArn": f"arn:{Aws.PARTITION}:s3:::{prefix}-*"},
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                },
            )
        )
